/* qr.h - QR codes as SVG, made with libqrencode (prefix qr_).
 *
 * Used for the registration code on the confirmation page: the image is a
 * plain SVG of dark squares on a white background with the quiet zone the
 * standard asks for (4 modules), so any phone camera or door scanner reads it. */
#ifndef PORTAL_QR_H
#define PORTAL_QR_H
#include <stddef.h>
#include "buf.h"

/* Encode text (NUL-terminated, at most 256 bytes) as a QR code with error
 * correction level M and append a complete SVG document to out, drawn at
 * `scale` user units per module (1..32; the SVG has a viewBox and scales to
 * its box). title (may be NULL) becomes the SVG's <title>, escaped. Returns
 * 0, or -1 when the text is empty, too long or libqrencode fails (out
 * unchanged). */
int qr_svg(buf *out, const char *text, int scale, const char *title);

#endif
