/* signature.js - a signature drawn on the screen, sent as a PNG data URL (progressive
 * enhancement; plugins use it, e.g. the welfare desk's receipt).
 *
 * Markup: a hidden input marked data-signature, e.g.
 *   <input type="hidden" name="signature" value="" data-signature
 *          data-signature-choice="sign_mode:screen">
 * The script puts a drawing area and a 清除 (clear) button after it; each finished stroke
 * stores the drawing in the input as "data:image/png;base64,..." and, with
 * data-signature-choice="NAME:VALUE", ticks the radio button NAME=VALUE (so drawing means
 * "signed on the screen"). Clearing empties the input. Elements marked
 * data-signature-only are hidden without this script (the server then never gets a
 * screen signature) and shown by it.
 *
 * The canvas is drawn at most at 2x the CSS size and in black on white, so the PNG stays
 * a few KB; the server checks the format and the size anyway. Loaded as an external file
 * (the Content-Security-Policy is script-src 'self'); plain ES5 for older phones. */
(function () {
	'use strict';

	var CSS_W = 320, CSS_H = 160;

	function pad(input) {
		var scale = Math.min(window.devicePixelRatio || 1, 2);
		var wrap = document.createElement('div');
		wrap.className = 'signature-pad';
		var canvas = document.createElement('canvas');
		canvas.width = Math.round(CSS_W * scale);
		canvas.height = Math.round(CSS_H * scale);
		canvas.style.width = CSS_W + 'px';
		canvas.style.maxWidth = '100%';
		canvas.style.height = 'auto';
		canvas.style.border = '1px solid #888';
		canvas.style.touchAction = 'none';   /* a finger draws instead of scrolling */
		canvas.setAttribute('role', 'img');
		canvas.setAttribute('aria-label', '签名区：请用手指在此签名');
		var clear = document.createElement('button');
		clear.type = 'button';
		clear.className = 'btn';
		clear.textContent = '清除';
		wrap.appendChild(canvas);
		wrap.appendChild(document.createElement('br'));
		wrap.appendChild(clear);
		input.parentNode.insertBefore(wrap, input.nextSibling);

		var ctx = canvas.getContext('2d');
		function blank() {
			ctx.fillStyle = '#fff';
			ctx.fillRect(0, 0, canvas.width, canvas.height);
			ctx.strokeStyle = '#000';
			ctx.lineWidth = 2.5 * scale;
			ctx.lineCap = 'round';
			ctx.lineJoin = 'round';
		}
		blank();

		var choice = (input.getAttribute('data-signature-choice') || '').split(':');
		function tickChoice() {
			if (choice.length !== 2 || !input.form) return;
			var radios = input.form.querySelectorAll('input[type=radio]');
			for (var i = 0; i < radios.length; i++)
				if (radios[i].name === choice[0] && radios[i].value === choice[1]) radios[i].checked = true;
		}

		var drawing = false;
		function point(e) {
			var r = canvas.getBoundingClientRect();
			return { x: (e.clientX - r.left) * canvas.width / r.width, y: (e.clientY - r.top) * canvas.height / r.height };
		}
		canvas.addEventListener('pointerdown', function (e) {
			drawing = true;
			if (canvas.setPointerCapture) canvas.setPointerCapture(e.pointerId);
			var p = point(e);
			ctx.beginPath();
			ctx.moveTo(p.x, p.y);
			ctx.lineTo(p.x + 0.1, p.y + 0.1);
			ctx.stroke();
			e.preventDefault();
		});
		canvas.addEventListener('pointermove', function (e) {
			if (!drawing) return;
			var p = point(e);
			ctx.lineTo(p.x, p.y);
			ctx.stroke();
			e.preventDefault();
		});
		function end() {
			if (!drawing) return;
			drawing = false;
			input.value = canvas.toDataURL('image/png');
			tickChoice();
		}
		canvas.addEventListener('pointerup', end);
		canvas.addEventListener('pointercancel', end);
		canvas.addEventListener('pointerleave', end);
		clear.addEventListener('click', function () {
			blank();
			input.value = '';
		});
	}

	function start() {
		var only = document.querySelectorAll('[data-signature-only]');
		for (var i = 0; i < only.length; i++) only[i].hidden = false;
		var inputs = document.querySelectorAll('input[data-signature]');
		for (var j = 0; j < inputs.length; j++) pad(inputs[j]);
	}

	if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
	else start();
})();
