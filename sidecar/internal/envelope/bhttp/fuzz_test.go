package bhttp

import (
	"reflect"
	"testing"
)

// fuzzLimits keeps fuzzing fast while still exercising the limit checks.
var fuzzLimits = Limits{MaxFieldSection: 4096, MaxContent: 1 << 16, MaxInformational: 4}

func FuzzParseRequest(f *testing.F) {
	for _, b := range loadExamples(f) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		req, err := ParseRequest(b, fuzzLimits)
		if err != nil {
			return
		}
		enc, err := req.MarshalBinary()
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		again, err := ParseRequest(enc, fuzzLimits)
		if err != nil {
			t.Fatalf("re-parse: %v", err)
		}
		if !reflect.DeepEqual(req, again) {
			t.Fatal("round trip changed the request")
		}
	})
}

func FuzzParseResponse(f *testing.F) {
	for _, b := range loadExamples(f) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		resp, err := ParseResponse(b, fuzzLimits)
		if err != nil {
			return
		}
		enc, err := resp.MarshalBinary()
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		again, err := ParseResponse(enc, fuzzLimits)
		if err != nil {
			t.Fatalf("re-parse: %v", err)
		}
		if !reflect.DeepEqual(resp, again) {
			t.Fatal("round trip changed the response")
		}
	})
}

// FuzzParseRequestInPlace: parsing in place gives the request ParseRequest
// gives (on a copy of the input taken before), for every input.
func FuzzParseRequestInPlace(f *testing.F) {
	for _, b := range loadExamples(f) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		want, werr := ParseRequest(b, fuzzLimits)
		got, gerr := ParseRequestInPlace(append([]byte(nil), b...), fuzzLimits)
		if (werr == nil) != (gerr == nil) {
			t.Fatalf("errors differ: %v, in place %v", werr, gerr)
		}
		if werr == nil && !reflect.DeepEqual(want, got) {
			t.Fatalf("in place %+v, want %+v", got, want)
		}
	})
}
