// checkin.js - the door page (checkin.html). The page works without it; this only keeps
// the search box ready for the next code: its text is selected on load, so a scanner or
// the next typed code replaces it at once.
(function () {
	'use strict';
	var q = document.getElementById('q');
	if (!q) return;
	q.focus();
	if (q.value) q.select();
})();
