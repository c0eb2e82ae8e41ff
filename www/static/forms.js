/* forms.js - show a form field only while its condition holds (progressive enhancement).
 *
 * The form_fields partial (www/templates/form_fields.html, fed by
 * core/plugin_form.c) marks the wrapper of a conditional field with
 *   data-show-if-field="basis"  data-show-if-equals='["resident","other"]'
 * (the name of the field it depends on, and a JSON array of the values that
 * show it). Without this script every field shows and its label says when it
 * applies. With it, a wrapper whose condition does not hold is hidden and its
 * controls disabled, so they are neither submitted nor checked by the
 * browser; the server ignores such fields anyway. A field that depends on a
 * hidden field is hidden too. A yes/no field's values are "true"/"false", a
 * consent box's "true" when ticked and "false" when not.
 *
 * Loaded as an external file (the Content-Security-Policy is script-src
 * 'self') by the partial itself, so a page with two forms loads it twice:
 * it starts once. Plain ES5 so older phone browsers run it. */
(function () {
	'use strict';

	var ITEM = '[data-show-if-field]';
	var MARK = 'data-pf-disabled';

	function wantedValues(item) {
		var text = item.getAttribute('data-show-if-equals') || '[]';
		try {
			var v = JSON.parse(text);
			if (Object.prototype.toString.call(v) !== '[object Array]') {
				v = [v];
			}
			return v.map(String);
		} catch (e) {
			return [text];
		}
	}

	/* The current values of the enabled controls called name inside scope. */
	function currentValues(scope, name) {
		var els = scope.querySelectorAll('[name]');
		var out = [];
		var boxes = [];
		for (var i = 0; i < els.length; i++) {
			var el = els[i];
			if (el.name !== name || el.disabled) {
				continue;
			}
			if (el.type === 'checkbox') {
				boxes.push(el);
				if (el.checked) {
					out.push(el.value);
				}
			} else if (el.type === 'radio') {
				if (el.checked) {
					out.push(el.value);
				}
			} else if (el.tagName === 'SELECT' && el.multiple) {
				for (var k = 0; k < el.options.length; k++) {
					if (el.options[k].selected) {
						out.push(el.options[k].value);
					}
				}
			} else {
				out.push(String(el.value).trim());
			}
		}
		/* a single consent box: not ticked means "false" */
		if (boxes.length === 1 && boxes[0].value === 'true' && !boxes[0].checked) {
			out.push('false');
		}
		return out;
	}

	function holds(item) {
		var scope = item.closest('form') || document;
		var wanted = wantedValues(item);
		var have = currentValues(scope, item.getAttribute('data-show-if-field'));
		for (var i = 0; i < have.length; i++) {
			if (wanted.indexOf(have[i]) >= 0) {
				return true;
			}
		}
		return false;
	}

	function setShown(item, show) {
		item.hidden = !show;
		var controls = item.querySelectorAll('input, select, textarea');
		for (var i = 0; i < controls.length; i++) {
			var el = controls[i];
			if (!show && !el.disabled) {
				el.disabled = true;
				el.setAttribute(MARK, '');
			} else if (show && el.hasAttribute(MARK)) {
				el.disabled = false;
				el.removeAttribute(MARK);
			}
		}
	}

	/* Re-evaluate every condition until nothing changes: hiding a field
	 * disables its controls, which can hide the fields that depend on it. */
	function update() {
		var items = document.querySelectorAll(ITEM);
		for (var pass = 0; pass <= items.length; pass++) {
			var changed = false;
			for (var i = 0; i < items.length; i++) {
				var show = holds(items[i]);
				if (items[i].hidden === show) {
					setShown(items[i], show);
					changed = true;
				}
			}
			if (!changed) {
				break;
			}
		}
	}

	function start() {
		/* the partial loads this file once per form: start once per page */
		if (document.documentElement.hasAttribute('data-pf-forms') || !document.querySelector(ITEM)) {
			return;
		}
		document.documentElement.setAttribute('data-pf-forms', '');
		document.documentElement.classList.add('pf-js');
		update();
		document.addEventListener('change', update);
		document.addEventListener('input', update);
	}

	if (document.readyState === 'loading') {
		document.addEventListener('DOMContentLoaded', start);
	} else {
		start();
	}
}());
