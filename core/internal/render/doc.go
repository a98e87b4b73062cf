// Package render writes what the core read as a searchable PDF or as
// hOCR, page by page: a writer takes one page at a time and writes it out
// before the next, so a document of any length costs one page's image.
//
// # Searchable PDF
//
// Each page is the image as it was read, drawn over the whole page, with
// an invisible text layer (text render mode 3) on top. The page is
// Width×Height pixels at the page's DPI (Width/DPI×72 points; DefaultDPI
// when unknown). The image is kept as sent, not turned, so the boxes of
// the lines, which are in its pixels, place the text directly; the page's
// /Rotate is 360−Angle so that viewers show a turned page upright, as
// ocrmypdf --rotate-pages does. Each line is one text run on its box: it
// starts at the box's bottom-left corner (the corners come clockwise from
// the text's top-left corner, so the run follows the text on a turned or
// skewed page), its font size is the box's height, and its horizontal
// scaling (Tz) stretches it to the box's width. Every character has the
// same advance, so a word's place on the page is its share of the line's
// characters, and a space between words is a space character: viewers
// select words, and pdftotext (poppler) finds them. Lines are written in
// the order given, the reading order, which pdftotext -raw keeps;
// pdftotext -layout lays the rows out as printed; plain pdftotext finds
// its own order, column by column on a table.
//
// Pages are stored as JPEG (quality DefaultJPEGQuality), except a grey
// page that Flate (8 bits) stores no larger, and a black-and-white page,
// stored as 1-bit Flate: lossless where it costs nothing.
//
// The text layer's font is a "GlyphLess" font as Tesseract's PDF renderer
// uses: a CID-keyed TrueType font (Identity-H) whose glyphs are all one
// blank glyph, with a ToUnicode map from each character code to its
// character, so any script, Chinese included, is searchable without
// embedding a font of that script. The TrueType file (444 bytes) is
// built in code (font.go). Character codes are given out in order of first
// use, one per distinct character of the document; the ToUnicode map and
// the CIDToGIDMap are written at Close.
//
// Why no PDF library: codeberg.org/go-pdf/fpdf (and its predecessors) keeps
// every page of a document in memory until it is output, and its Unicode
// text needs a TrueType font with a glyph for every character it writes,
// which for Chinese means embedding (a subset of) a multi-megabyte CJK
// font; it cannot write a text layer in a glyphless font. pdfcpu processes
// existing PDFs and has no streaming writer either. The writer here is
// the small part of PDF needed: numbered objects, Flate streams, a
// cross-reference table and a trailer (pdf.go).
//
// # hOCR
//
// HOCRWriter writes hOCR 1.2 as Tesseract's hOCR renderer does: an XHTML
// document with one ocr_page per page (bbox = the image's size, ppageno,
// scan_res when the DPI is known), an ocr_line per line and an ocrx_word
// per word (bbox in pixels of the page as sent, x_wconf 0 to 100).
package render
