package synth

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"golang.org/x/image/font"
	"golang.org/x/image/font/opentype"
	"golang.org/x/image/font/sfnt"
)

// FontDirEnv names the environment variable that overrides the folder
// holding the Noto CJK collections (default: Debian's fonts-noto-cjk folder).
const FontDirEnv = "SEALOCR_CJK_FONT_DIR"

// DefaultFontDir is where Debian's fonts-noto-cjk installs the collections.
const DefaultFontDir = "/usr/share/fonts/opentype/noto"

// Typeface is one of the faces the generator prints with.
type Typeface int

// Typefaces, all Simplified Chinese members of the Noto CJK collections.
const (
	SansRegular Typeface = iota
	SansBold
	SerifRegular
	numTypefaces
)

var fontFiles = [numTypefaces]string{
	SansRegular:  "NotoSansCJK-Regular.ttc",
	SansBold:     "NotoSansCJK-Bold.ttc",
	SerifRegular: "NotoSerifCJK-Regular.ttc",
}

// familySC is the family name of the Simplified Chinese member of each
// collection, which prints the mainland glyph forms the models were
// trained on.
var familySC = [numTypefaces]string{
	SansRegular:  "Noto Sans CJK SC",
	SansBold:     "Noto Sans CJK SC",
	SerifRegular: "Noto Serif CJK SC",
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
// $SEALOCR_CJK_FONT_DIR, else DefaultFontDir). It fails, naming the Debian
// package, when a collection is missing.
func LoadFonts(dir string) (*Fonts, error) {
	if dir == "" {
		dir = os.Getenv(FontDirEnv)
	}
	if dir == "" {
		dir = DefaultFontDir
	}
	f := &Fonts{faces: map[faceKey]font.Face{}}
	for tf, name := range fontFiles {
		p := filepath.Join(dir, name)
		data, err := os.ReadFile(p)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("synth: %s missing (install Debian's fonts-noto-cjk, or set %s)", p, FontDirEnv)
		}
		if err != nil {
			return nil, fmt.Errorf("synth: %w", err)
		}
		coll, err := opentype.ParseCollection(data)
		if err != nil {
			return nil, fmt.Errorf("synth: %s: %w", p, err)
		}
		fnt, err := pick(coll, familySC[tf])
		if err != nil {
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
