package identity

import "testing"

func TestNormalize(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		" Ann@Example.COM ": "ann@example.com", "mailto:bo@shop.de": "bo@shop.de", "test@test.com": "",
		"a@b": "", "no at sign.com": "", "two@@x.com": "", "x@y.c": "", "null": "", "ann smith@example.com": "",
	} {
		if got := NormalizeEmail(in); got != want {
			t.Errorf("NormalizeEmail(%q) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[string]string{
		"+49 (151) 234-5678": "+491512345678", "0049 151 2345678": "+491512345678", "030/1234-567": "0301234567",
		"000000": "", "123456789": "", "12345": "", "call me": "", "+1 555 0100 ext 3": "",
	} {
		if got := NormalizePhone(in); got != want {
			t.Errorf("NormalizePhone(%q) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[string]string{
		"null": "", " undefined ": "", "0": "", "-1": "", "NaN": "", "[object Object]": "", "0000": "",
		"anonymous": "", "  ": "", "u-42": "u-42", " 1234 ": "1234", "00000000-0000-0000-0000-000000000000": "",
	} {
		if got := NormalizeID(in); got != want {
			t.Errorf("NormalizeID(%q) = %q, want %q", in, got, want)
		}
	}
}
