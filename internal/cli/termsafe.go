package cli

import (
	"io"
	"unicode/utf8"
)

// termSafe is Main's last line of defence for standard output on a terminal: whatever a
// command prints, stored values included, no escape sequence reaches the terminal. Tabs
// and newlines pass (they lay out tables); every other control character is written as
// Clean writes it. Commands still Clean the values they print, which also escapes tabs and
// newlines inside a value.
type termSafe struct {
	w     io.Writer
	carry []byte // the start of a UTF-8 sequence split across writes
}

func (t *termSafe) Write(p []byte) (int, error) {
	n := len(p)
	buf := p
	if len(t.carry) > 0 {
		buf = append(t.carry, p...)
		t.carry = nil
	}
	out := make([]byte, 0, len(buf))
	for i := 0; i < len(buf); {
		c := buf[i]
		if c < utf8.RuneSelf {
			if c < 0x20 && c != '\n' && c != '\t' || c == 0x7f {
				out = append(out, Clean(string(c))...)
			} else {
				out = append(out, c)
			}
			i++
			continue
		}
		if !utf8.FullRune(buf[i:]) {
			t.carry = append([]byte(nil), buf[i:]...)
			break
		}
		r, size := utf8.DecodeRune(buf[i:])
		if s := string(buf[i : i+size]); r != utf8.RuneError && Clean(s) != s {
			out = append(out, Clean(s)...)
		} else {
			out = append(out, buf[i:i+size]...)
		}
		i += size
	}
	if _, err := t.w.Write(out); err != nil {
		return 0, err
	}
	return n, nil
}
