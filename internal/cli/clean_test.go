package cli

import "testing"

func TestClean(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ in, want string }{
		{"Ana Müller", "Ana Müller"},
		{"\x1b]0;pwned\x07", `\x1b]0;pwned\x07`},
		{"a\tb\nc\rd", `a\x09b\x0ac\x0dd`},
		{"x\u202ey", `x\u{202E}y`},
		{"\u0085", `\u{85}`},
	} {
		if got := Clean(c.in); got != c.want {
			t.Errorf("Clean(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}
