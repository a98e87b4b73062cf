package logging

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/buffer"
	"go.uber.org/zap/zapcore"
)

// encoder is the redacting zapcore.Encoder. Fields added to it (by
// Core.With) are redacted as they are added and stored in the wrapped
// encoder; fields of an entry are redacted as the wrapped encoder encodes
// them.
type encoder struct {
	objEnc                  // redacting view of wrapped
	wrapped zapcore.Encoder // zap's JSON or console encoder
}

// newEncoder wraps inner so that everything written through it is redacted.
func newEncoder(inner zapcore.Encoder, r *redactor) *encoder {
	return &encoder{objEnc: objEnc{enc: inner, r: r, pair: new(pairState)}, wrapped: inner}
}

// Clone implements zapcore.Encoder. The clone is again redacting, so fields
// added to it by Core.With are redacted too.
func (e *encoder) Clone() zapcore.Encoder {
	return newEncoder(e.wrapped.Clone(), e.r)
}

// EncodeEntry implements zapcore.Encoder. It scrubs the message, logger name
// and stack trace, and hands the fields to the wrapped encoder as one inline
// object whose marshaler adds them through the redacting view of whichever
// encoder the wrapped one uses internally.
func (e *encoder) EncodeEntry(ent zapcore.Entry, fields []zapcore.Field) (*buffer.Buffer, error) {
	ent.Message = Redact(ent.Message)
	ent.LoggerName = Redact(ent.LoggerName)
	ent.Stack = Redact(ent.Stack)
	if len(fields) == 0 {
		return e.wrapped.EncodeEntry(ent, nil)
	}
	return e.wrapped.EncodeEntry(ent, []zapcore.Field{zap.Inline(fieldList{fields: fields, r: e.r})})
}

// fieldList adds fields through a redacting view of the encoder it is given.
type fieldList struct {
	fields []zapcore.Field
	r      *redactor
}

// MarshalLogObject implements zapcore.ObjectMarshaler.
func (l fieldList) MarshalLogObject(enc zapcore.ObjectEncoder) error {
	o := &objEnc{enc: enc, r: l.r, pair: new(pairState)} // not one allocation per field
	for _, f := range l.fields {
		f.AddTo(o)
	}
	return nil
}

// objMarshaler marshals a nested object through a redacting view.
type objMarshaler struct {
	m zapcore.ObjectMarshaler
	r *redactor
}

// MarshalLogObject implements zapcore.ObjectMarshaler.
func (w objMarshaler) MarshalLogObject(enc zapcore.ObjectEncoder) error {
	return w.m.MarshalLogObject(&objEnc{enc: enc, r: w.r, pair: new(pairState)})
}

// arrMarshaler marshals a nested array through a redacting view.
type arrMarshaler struct {
	m zapcore.ArrayMarshaler
	r *redactor
}

// MarshalLogArray implements zapcore.ArrayMarshaler.
func (w arrMarshaler) MarshalLogArray(enc zapcore.ArrayEncoder) error {
	return w.m.MarshalLogArray(&arrEnc{enc: enc, r: w.r, pair: new(pairState)})
}

// objEnc is a redacting zapcore.ObjectEncoder in front of enc.
type objEnc struct {
	enc  zapcore.ObjectEncoder
	r    *redactor
	pair *pairState
}

// pairState carries a name/value shape across the calls of one object or
// array marshaler: a string field "name" or "key" (in an object), or a
// string element (in an array), that names a credential or payload makes
// the following "value"/"values" field, or the next string element, get
// that name's rule.
type pairState struct{ class keyClass }

// isNameLabel and isValueLabel recognise the field keys of a name/value
// object.
func isNameLabel(key string) bool {
	return strings.EqualFold(key, "name") || strings.EqualFold(key, "key")
}

func isValueLabel(key string) bool {
	return strings.EqualFold(key, "value") || strings.EqualFold(key, "values")
}

// hide writes the replacement for a payload or credential key, or for the
// value of a pending credential name/value pair, and reports whether it did.
func (o objEnc) hide(key string) bool {
	if o.pair != nil && o.pair.class != keyPlain && isValueLabel(key) {
		tok := tokenMasked
		if o.pair.class == keyPayload {
			tok = tokenRedacted
		}
		o.pair.class = keyPlain
		o.enc.AddString(Redact(key), tok)
		return true
	}
	switch classifyKey(key) {
	case keyPayload:
		o.enc.AddString(Redact(key), tokenRedacted)
		return true
	case keySecret:
		o.enc.AddString(Redact(key), tokenMasked)
		return true
	}
	return false
}

// AddArray implements zapcore.ObjectEncoder.
func (o objEnc) AddArray(key string, m zapcore.ArrayMarshaler) error {
	if o.hide(key) {
		return nil
	}
	return o.enc.AddArray(Redact(key), arrMarshaler{m: m, r: o.r})
}

// AddObject implements zapcore.ObjectEncoder.
func (o objEnc) AddObject(key string, m zapcore.ObjectMarshaler) error {
	if o.hide(key) {
		return nil
	}
	return o.enc.AddObject(Redact(key), objMarshaler{m: m, r: o.r})
}

// AddBinary implements zapcore.ObjectEncoder; bytes are never written.
func (o objEnc) AddBinary(key string, _ []byte) {
	o.enc.AddString(Redact(key), tokenRedacted)
}

// AddByteString implements zapcore.ObjectEncoder; bytes are never written.
func (o objEnc) AddByteString(key string, _ []byte) {
	o.enc.AddString(Redact(key), tokenRedacted)
}

// AddBool implements zapcore.ObjectEncoder. Credential-keyed bools are kept.
func (o objEnc) AddBool(key string, v bool) {
	if classifyKey(key) == keyPayload {
		o.enc.AddString(Redact(key), tokenRedacted)
		return
	}
	o.enc.AddBool(Redact(key), v)
}

// AddComplex128 implements zapcore.ObjectEncoder.
func (o objEnc) AddComplex128(key string, v complex128) {
	if !o.hide(key) {
		o.enc.AddComplex128(Redact(key), v)
	}
}

// AddComplex64 implements zapcore.ObjectEncoder.
func (o objEnc) AddComplex64(key string, v complex64) {
	if !o.hide(key) {
		o.enc.AddComplex64(Redact(key), v)
	}
}

// AddDuration implements zapcore.ObjectEncoder.
func (o objEnc) AddDuration(key string, v time.Duration) {
	if !o.hide(key) {
		o.enc.AddDuration(Redact(key), v)
	}
}

// AddFloat64 implements zapcore.ObjectEncoder.
func (o objEnc) AddFloat64(key string, v float64) {
	if !o.hide(key) {
		o.enc.AddFloat64(Redact(key), v)
	}
}

// AddFloat32 implements zapcore.ObjectEncoder.
func (o objEnc) AddFloat32(key string, v float32) {
	if !o.hide(key) {
		o.enc.AddFloat32(Redact(key), v)
	}
}

// AddInt implements zapcore.ObjectEncoder.
func (o objEnc) AddInt(key string, v int) { o.AddInt64(key, int64(v)) }

// AddInt64 implements zapcore.ObjectEncoder. Integers that read as a phone or
// card number are written as their replacement token.
func (o objEnc) AddInt64(key string, v int64) {
	if o.hide(key) {
		return
	}
	if s, ok := redactInt(v); ok {
		o.enc.AddString(Redact(key), s)
		return
	}
	o.enc.AddInt64(Redact(key), v)
}

// AddInt32 implements zapcore.ObjectEncoder.
func (o objEnc) AddInt32(key string, v int32) {
	if !o.hide(key) {
		o.enc.AddInt32(Redact(key), v)
	}
}

// AddInt16 implements zapcore.ObjectEncoder.
func (o objEnc) AddInt16(key string, v int16) {
	if !o.hide(key) {
		o.enc.AddInt16(Redact(key), v)
	}
}

// AddInt8 implements zapcore.ObjectEncoder.
func (o objEnc) AddInt8(key string, v int8) {
	if !o.hide(key) {
		o.enc.AddInt8(Redact(key), v)
	}
}

// AddString implements zapcore.ObjectEncoder.
func (o objEnc) AddString(key, v string) {
	if o.hide(key) {
		return
	}
	o.enc.AddString(Redact(key), Redact(v))
	if o.pair != nil && isNameLabel(key) {
		o.pair.class = classifyKey(v)
	}
}

// AddTime implements zapcore.ObjectEncoder.
func (o objEnc) AddTime(key string, v time.Time) {
	if !o.hide(key) {
		o.enc.AddTime(Redact(key), v)
	}
}

// AddUint implements zapcore.ObjectEncoder.
func (o objEnc) AddUint(key string, v uint) { o.AddUint64(key, uint64(v)) }

// AddUint64 implements zapcore.ObjectEncoder, like AddInt64.
func (o objEnc) AddUint64(key string, v uint64) {
	if o.hide(key) {
		return
	}
	if s, ok := redactUint(v); ok {
		o.enc.AddString(Redact(key), s)
		return
	}
	o.enc.AddUint64(Redact(key), v)
}

// AddUint32 implements zapcore.ObjectEncoder.
func (o objEnc) AddUint32(key string, v uint32) {
	if !o.hide(key) {
		o.enc.AddUint32(Redact(key), v)
	}
}

// AddUint16 implements zapcore.ObjectEncoder.
func (o objEnc) AddUint16(key string, v uint16) {
	if !o.hide(key) {
		o.enc.AddUint16(Redact(key), v)
	}
}

// AddUint8 implements zapcore.ObjectEncoder.
func (o objEnc) AddUint8(key string, v uint8) {
	if !o.hide(key) {
		o.enc.AddUint8(Redact(key), v)
	}
}

// AddUintptr implements zapcore.ObjectEncoder.
func (o objEnc) AddUintptr(key string, v uintptr) {
	if !o.hide(key) {
		o.enc.AddUintptr(Redact(key), v)
	}
}

// AddReflected implements zapcore.ObjectEncoder. KeyID and Subject values are
// hashed; anything else is rebuilt as redacted maps, slices and scalars
// before the wrapped encoder serialises it.
func (o objEnc) AddReflected(key string, v any) error {
	if h, ok := v.(hashed); ok {
		o.enc.AddString(Redact(key), o.r.hash(h))
		return nil
	}
	if o.hide(key) {
		return nil
	}
	clean, err := o.r.sanitizeAny(v)
	if err != nil {
		o.enc.AddString(Redact(key), tokenRedacted)
		return err
	}
	return o.enc.AddReflected(Redact(key), clean)
}

// OpenNamespace implements zapcore.ObjectEncoder.
func (o objEnc) OpenNamespace(key string) {
	o.enc.OpenNamespace(Redact(key))
}

// arrEnc is a redacting zapcore.ArrayEncoder in front of enc.
type arrEnc struct {
	enc  zapcore.ArrayEncoder
	r    *redactor
	pair *pairState
}

// AppendBool implements zapcore.ArrayEncoder.
func (a arrEnc) AppendBool(v bool) { a.enc.AppendBool(v) }

// AppendByteString implements zapcore.ArrayEncoder; bytes are never written.
func (a arrEnc) AppendByteString([]byte) { a.enc.AppendString(tokenRedacted) }

// AppendComplex128 implements zapcore.ArrayEncoder.
func (a arrEnc) AppendComplex128(v complex128) { a.enc.AppendComplex128(v) }

// AppendComplex64 implements zapcore.ArrayEncoder.
func (a arrEnc) AppendComplex64(v complex64) { a.enc.AppendComplex64(v) }

// AppendFloat64 implements zapcore.ArrayEncoder.
func (a arrEnc) AppendFloat64(v float64) { a.enc.AppendFloat64(v) }

// AppendFloat32 implements zapcore.ArrayEncoder.
func (a arrEnc) AppendFloat32(v float32) { a.enc.AppendFloat32(v) }

// AppendInt implements zapcore.ArrayEncoder.
func (a arrEnc) AppendInt(v int) { a.AppendInt64(int64(v)) }

// AppendInt64 implements zapcore.ArrayEncoder, like objEnc.AddInt64.
func (a arrEnc) AppendInt64(v int64) {
	if s, ok := redactInt(v); ok {
		a.enc.AppendString(s)
		return
	}
	a.enc.AppendInt64(v)
}

// AppendInt32 implements zapcore.ArrayEncoder.
func (a arrEnc) AppendInt32(v int32) { a.enc.AppendInt32(v) }

// AppendInt16 implements zapcore.ArrayEncoder.
func (a arrEnc) AppendInt16(v int16) { a.enc.AppendInt16(v) }

// AppendInt8 implements zapcore.ArrayEncoder.
func (a arrEnc) AppendInt8(v int8) { a.enc.AppendInt8(v) }

// AppendString implements zapcore.ArrayEncoder. A string that follows a
// credential or payload name in the same array is that name's value.
func (a arrEnc) AppendString(v string) {
	if a.pair != nil {
		switch a.pair.class {
		case keySecret:
			a.pair.class = keyPlain
			a.enc.AppendString(tokenMasked)
			return
		case keyPayload:
			a.pair.class = keyPlain
			a.enc.AppendString(tokenRedacted)
			return
		}
		a.pair.class = classifyKey(v)
	}
	a.enc.AppendString(Redact(v))
}

// AppendUint implements zapcore.ArrayEncoder.
func (a arrEnc) AppendUint(v uint) { a.AppendUint64(uint64(v)) }

// AppendUint64 implements zapcore.ArrayEncoder, like objEnc.AddUint64.
func (a arrEnc) AppendUint64(v uint64) {
	if s, ok := redactUint(v); ok {
		a.enc.AppendString(s)
		return
	}
	a.enc.AppendUint64(v)
}

// AppendUint32 implements zapcore.ArrayEncoder.
func (a arrEnc) AppendUint32(v uint32) { a.enc.AppendUint32(v) }

// AppendUint16 implements zapcore.ArrayEncoder.
func (a arrEnc) AppendUint16(v uint16) { a.enc.AppendUint16(v) }

// AppendUint8 implements zapcore.ArrayEncoder.
func (a arrEnc) AppendUint8(v uint8) { a.enc.AppendUint8(v) }

// AppendUintptr implements zapcore.ArrayEncoder.
func (a arrEnc) AppendUintptr(v uintptr) { a.enc.AppendUintptr(v) }

// AppendDuration implements zapcore.ArrayEncoder.
func (a arrEnc) AppendDuration(v time.Duration) { a.enc.AppendDuration(v) }

// AppendTime implements zapcore.ArrayEncoder.
func (a arrEnc) AppendTime(v time.Time) { a.enc.AppendTime(v) }

// AppendArray implements zapcore.ArrayEncoder.
func (a arrEnc) AppendArray(m zapcore.ArrayMarshaler) error {
	return a.enc.AppendArray(arrMarshaler{m: m, r: a.r})
}

// AppendObject implements zapcore.ArrayEncoder.
func (a arrEnc) AppendObject(m zapcore.ObjectMarshaler) error {
	return a.enc.AppendObject(objMarshaler{m: m, r: a.r})
}

// AppendReflected implements zapcore.ArrayEncoder, like objEnc.AddReflected.
func (a arrEnc) AppendReflected(v any) error {
	if h, ok := v.(hashed); ok {
		a.enc.AppendString(a.r.hash(h))
		return nil
	}
	clean, err := a.r.sanitizeAny(v)
	if err != nil {
		a.enc.AppendString(tokenRedacted)
		return err
	}
	return a.enc.AppendReflected(clean)
}

// redactInt returns the replacement for v when its decimal form has at least
// 11 digits and matches a number rule of Redact.
func redactInt(v int64) (string, bool) {
	if v > -1e10 && v < 1e10 {
		return "", false
	}
	var buf [24]byte
	return redactDecimal(strconv.AppendInt(buf[:0], v, 10))
}

// redactUint is redactInt for unsigned values.
func redactUint(v uint64) (string, bool) {
	if v < 1e10 {
		return "", false
	}
	var buf [24]byte
	return redactDecimal(strconv.AppendUint(buf[:0], v, 10))
}

// redactDecimal scrubs a formatted integer and reports whether it changed.
func redactDecimal(b []byte) (string, bool) {
	s := string(b)
	if r := Redact(s); r != s {
		return r, true
	}
	return "", false
}

// sanitizeAny rebuilds v with sanitize, turning a panic in a user method into
// an error.
func (r *redactor) sanitizeAny(v any) (clean any, err error) {
	defer func() {
		if p := recover(); p != nil {
			clean, err = nil, fmt.Errorf("logging: value of type %T panicked while being logged", v)
		}
	}()
	return r.sanitize(reflect.ValueOf(v), 0), nil
}

// Interface guards.
var (
	_ zapcore.Encoder         = (*encoder)(nil)
	_ zapcore.ObjectEncoder   = objEnc{}
	_ zapcore.ArrayEncoder    = arrEnc{}
	_ zapcore.ObjectMarshaler = fieldList{}
	_ zapcore.ObjectMarshaler = objMarshaler{}
	_ zapcore.ArrayMarshaler  = arrMarshaler{}
)
