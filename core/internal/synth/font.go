package synth

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/image/font"
	"golang.org/x/image/font/opentype"
	"golang.org/x/image/font/sfnt"
)

// FontDirEnv names the environment variable that overrides the folder
// holding the Noto CJK collections (default: Debian's fonts-noto-cjk folder).
const FontDirEnv = "SEALOCR_CJK_FONT_DIR"

// DefaultFontDir is where Debian's fonts-noto-cjk installs the collections.
const DefaultFontDir = "/usr/share/fonts/opentype/noto"

// LatinFontRootEnv names the environment variable that overrides the
// folder under which the Latin fonts are found (default: Debian's
// /usr/share/fonts, where fonts-liberation, fonts-dejavu-core and
// fonts-urw-base35 install them).
const LatinFontRootEnv = "SEALOCR_LATIN_FONT_ROOT"

// DefaultLatinFontRoot is the folder the Latin font paths are relative to.
const DefaultLatinFontRoot = "/usr/share/fonts"

// Typeface is one of the faces the generator prints with.
type Typeface int

// Typefaces: the Simplified Chinese members of the Noto CJK collections for
// the mixed Chinese/English set, then the Latin faces of the English set.
const (
	SansRegular Typeface = iota
	SansBold
	SerifRegular
	LiberationSans
	LiberationSansBold
	LiberationSerif
	LiberationMono
	DejaVuSans
	DejaVuSansBold
	DejaVuSerif
	DejaVuSansMono
	NimbusSans
	NimbusSansBold
	NimbusRoman
	NimbusMono
	C059
	P052
	URWBookman
	URWGothic
	numTypefaces
)

// firstLatin is the first Latin typeface; the ones before it are CJK.
const firstLatin = LiberationSans

// Latin reports whether tf is one of the Latin faces of the English set.
func (tf Typeface) Latin() bool { return tf >= firstLatin && tf < numTypefaces }

// LatinFaces lists the Latin typefaces, in a fixed order.
func LatinFaces() []Typeface {
	var out []Typeface
	for tf := firstLatin; tf < numTypefaces; tf++ {
		out = append(out, tf)
	}
	return out
}

// fontFile says where a typeface is: a file under the CJK folder (with the
// family to pick from the collection) or under the Latin root, and the
// Debian package that ships it.
type fontFile struct {
	path   string
	family string // collections only
	pkg    string
}

var fontFiles = [numTypefaces]fontFile{
	SansRegular:        {"NotoSansCJK-Regular.ttc", "Noto Sans CJK SC", "fonts-noto-cjk"},
	SansBold:           {"NotoSansCJK-Bold.ttc", "Noto Sans CJK SC", "fonts-noto-cjk"},
	SerifRegular:       {"NotoSerifCJK-Regular.ttc", "Noto Serif CJK SC", "fonts-noto-cjk"},
	LiberationSans:     {"truetype/liberation/LiberationSans-Regular.ttf", "", "fonts-liberation"},
	LiberationSansBold: {"truetype/liberation/LiberationSans-Bold.ttf", "", "fonts-liberation"},
	LiberationSerif:    {"truetype/liberation/LiberationSerif-Regular.ttf", "", "fonts-liberation"},
	LiberationMono:     {"truetype/liberation/LiberationMono-Regular.ttf", "", "fonts-liberation"},
	DejaVuSans:         {"truetype/dejavu/DejaVuSans.ttf", "", "fonts-dejavu-core"},
	DejaVuSansBold:     {"truetype/dejavu/DejaVuSans-Bold.ttf", "", "fonts-dejavu-core"},
	DejaVuSerif:        {"truetype/dejavu/DejaVuSerif.ttf", "", "fonts-dejavu-core"},
	DejaVuSansMono:     {"truetype/dejavu/DejaVuSansMono.ttf", "", "fonts-dejavu-core"},
	NimbusSans:         {"opentype/urw-base35/NimbusSans-Regular.otf", "", "fonts-urw-base35"},
	NimbusSansBold:     {"opentype/urw-base35/NimbusSans-Bold.otf", "", "fonts-urw-base35"},
	NimbusRoman:        {"opentype/urw-base35/NimbusRoman-Regular.otf", "", "fonts-urw-base35"},
	NimbusMono:         {"opentype/urw-base35/NimbusMonoPS-Regular.otf", "", "fonts-urw-base35"},
	C059:               {"opentype/urw-base35/C059-Roman.otf", "", "fonts-urw-base35"},
	P052:               {"opentype/urw-base35/P052-Roman.otf", "", "fonts-urw-base35"},
	URWBookman:         {"opentype/urw-base35/URWBookman-Light.otf", "", "fonts-urw-base35"},
	URWGothic:          {"opentype/urw-base35/URWGothic-Book.otf", "", "fonts-urw-base35"},
}

// String is the typeface's file name without its folder and extension.
func (tf Typeface) String() string {
	if tf < 0 || tf >= numTypefaces {
		return "Typeface(" + strconv.Itoa(int(tf)) + ")"
	}
	name := filepath.Base(fontFiles[tf].path)
	return strings.TrimSuffix(name, filepath.Ext(name))
}

// Fonts holds the parsed typefaces. Faces are made per size on demand; a
// Fonts is not safe for concurrent use.
type Fonts struct {
	fonts [numTypefaces]*opentype.Font
	files [numTypefaces]string
	faces map[faceKey]font.Face
}

type faceKey struct {
	tf   Typeface
	size int
}

// LoadFonts parses the Noto CJK collections from dir ("" means
// $SEALOCR_CJK_FONT_DIR, else DefaultFontDir) and the Latin fonts from
// under $SEALOCR_LATIN_FONT_ROOT, else DefaultLatinFontRoot. It fails,
// naming the Debian package, when a file is missing.
func LoadFonts(dir string) (*Fonts, error) {
	if dir == "" {
		dir = os.Getenv(FontDirEnv)
	}
	if dir == "" {
		dir = DefaultFontDir
	}
	root := os.Getenv(LatinFontRootEnv)
	if root == "" {
		root = DefaultLatinFontRoot
	}
	f := &Fonts{faces: map[faceKey]font.Face{}}
	for tf, ff := range fontFiles {
		p := filepath.Join(dir, ff.path)
		env := FontDirEnv
		if Typeface(tf).Latin() {
			p, env = filepath.Join(root, ff.path), LatinFontRootEnv
		}
		data, err := os.ReadFile(p)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("synth: %s missing (install Debian's %s, or set %s)", p, ff.pkg, env)
		}
		if err != nil {
			return nil, fmt.Errorf("synth: %w", err)
		}
		var fnt *opentype.Font
		if ff.family != "" {
			coll, err := opentype.ParseCollection(data)
			if err != nil {
				return nil, fmt.Errorf("synth: %s: %w", p, err)
			}
			fnt, err = pick(coll, ff.family)
			if err != nil {
				return nil, fmt.Errorf("synth: %s: %w", p, err)
			}
		} else if fnt, err = opentype.Parse(data); err != nil {
			return nil, fmt.Errorf("synth: %s: %w", p, err)
		}
		f.fonts[tf] = fnt
		f.files[tf] = p
	}
	return f, nil
}

// Files lists the font files in use, for a set's provenance.
func (f *Fonts) Files() []string { return append([]string(nil), f.files[:]...) }

func pick(coll *opentype.Collection, family string) (*opentype.Font, error) {
	var buf sfnt.Buffer
	for i := 0; i < coll.NumFonts(); i++ {
		fnt, err := coll.Font(i)
		if err != nil {
			return nil, err
		}
		name, err := fnt.Name(&buf, sfnt.NameIDFamily)
		if err == nil && name == family {
			return fnt, nil
		}
	}
	return nil, fmt.Errorf("no %q in the collection", family)
}

// face returns the face of tf at size pixels (72 dpi: one point per pixel),
// unhinted so glyph outlines scale exactly.
func (f *Fonts) face(tf Typeface, size int) font.Face {
	k := faceKey{tf, size}
	if fc, ok := f.faces[k]; ok {
		return fc
	}
	fc, err := opentype.NewFace(f.fonts[tf], &opentype.FaceOptions{Size: float64(size), DPI: 72, Hinting: font.HintingNone})
	if err != nil {
		panic(fmt.Sprintf("synth: face: %v", err)) // only for invalid options, which are fixed above
	}
	f.faces[k] = fc
	return fc
}
