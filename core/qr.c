/* qr.c - QR codes as SVG with libqrencode (see qr.h). */
#include "qr.h"
#include "html.h"
#include <errno.h>
#include <qrencode.h>
#include <string.h>

#define QR_QUIET 4          /* modules of white border (ISO/IEC 18004) */
#define QR_MAX_TEXT 256

int qr_svg(buf *out, const char *text, int scale, const char *title)
{
	if (!text || !*text || strlen(text) > QR_MAX_TEXT)
		return -1;
	if (scale < 1)
		scale = 1;
	if (scale > 32)
		scale = 32;
	/* 8-bit mode, case kept: the code alphabet is upper case and digits, but
	 * nothing here depends on it */
	QRcode *q = QRcode_encodeString8bit(text, 0, QR_ECLEVEL_M);
	if (!q)
		return -1;
	int w = q->width, full = w + 2 * QR_QUIET;
	buf_printf(out,
	           "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	           "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"%d\" height=\"%d\""
	           " viewBox=\"0 0 %d %d\" shape-rendering=\"crispEdges\" role=\"img\">\n",
	           full * scale, full * scale, full, full);
	if (title && *title) {
		buf_adds(out, "<title>");
		html_text(out, title, strlen(title));
		buf_adds(out, "</title>\n");
	}
	buf_printf(out, "<rect width=\"%d\" height=\"%d\" fill=\"#fff\"/>\n<path fill=\"#000\" d=\"", full, full);
	/* one subpath per horizontal run of dark modules (bit 0 of each byte) */
	for (int y = 0; y < w; y++) {
		const unsigned char *row = q->data + (size_t)y * (size_t)w;
		for (int x = 0; x < w;) {
			if (!(row[x] & 1)) {
				x++;
				continue;
			}
			int x0 = x;
			while (x < w && (row[x] & 1))
				x++;
			buf_printf(out, "M%d %dh%dv1h-%dz", x0 + QR_QUIET, y + QR_QUIET, x - x0, x - x0);
		}
	}
	buf_adds(out, "\"/>\n</svg>\n");
	QRcode_free(q);
	return 0;
}
