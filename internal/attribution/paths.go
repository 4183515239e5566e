package attribution

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
)

// pathColumns is ChannelAttribution's layout.
var pathColumns = []string{"path", "total_conversions", "total_conversion_value", "total_null"}

// ReadPaths reads a path file (see ReadPathSet) into paths, first-seen order. Touches
// have no times.
func ReadPaths(r io.Reader) ([]Path, error) {
	s, err := ReadPathSet(r)
	if err != nil {
		return nil, err
	}
	return s.Paths(), nil
}

// ReadPathSet reads a path file in ChannelAttribution's layout straight into a Set: a
// header path;total_conversions;total_conversion_value;total_null (";" or "," separated,
// detected from the header; total_conversion_value and total_null may be absent) and one
// row per path, "A > B > C", split on ">" with spaces trimmed. Rows repeating a path are
// summed into one path (first-seen order), so memory grows with the distinct paths, not
// with the file: it is read a buffer at a time, and a line without quotes is split without
// allocating.
func ReadPathSet(r io.Reader) (*Set, error) {
	br := bufio.NewReaderSize(r, 1<<20)
	header, err := br.ReadString('\n')
	if err != nil && (err != io.EOF || header == "") {
		if err == io.EOF {
			return nil, errors.New("path file is empty")
		}
		return nil, fmt.Errorf("read path file header: %w", err)
	}
	header = strings.TrimPrefix(header, "\ufeff")
	sep := byte(';')
	if !strings.ContainsRune(header, ';') && strings.ContainsRune(header, ',') {
		sep = ','
	}
	head, err := splitQuoted([]byte(strings.TrimRight(header, "\r\n")), sep)
	if err != nil {
		return nil, fmt.Errorf("read path file header: %w", err)
	}
	col := map[string]int{}
	for i, name := range head {
		col[strings.ToLower(strings.TrimSpace(string(name)))] = i
	}
	for _, need := range pathColumns[:2] {
		if _, ok := col[need]; !ok {
			return nil, fmt.Errorf("path file header %q: missing column %q (want %s)", strings.TrimSpace(header), need, strings.Join(pathColumns, string(sep)))
		}
	}
	idx := [4]int{-1, -1, -1, -1}
	for i, name := range pathColumns {
		if c, ok := col[name]; ok {
			idx[i] = c
		}
	}

	agg := newPathAgg()
	var (
		fields [][]byte
		chs    []uint16
		long   []byte
	)
	for line := 2; ; line++ {
		raw, err := br.ReadSlice('\n')
		if err == bufio.ErrBufferFull { // a line longer than the buffer
			long = append(long[:0], raw...)
			for err == bufio.ErrBufferFull {
				raw, err = br.ReadSlice('\n')
				long = append(long, raw...)
			}
			raw = long
		}
		if err != nil && err != io.EOF {
			return nil, fmt.Errorf("read path file: %w", err)
		}
		if len(raw) == 0 && err == io.EOF {
			break
		}
		raw = bytes.TrimRight(raw, "\r\n")
		if len(bytes.TrimSpace(raw)) == 0 {
			if err == io.EOF {
				break
			}
			continue // blank line
		}
		if bytes.IndexByte(raw, '"') >= 0 {
			if fields, err = splitQuoted(raw, sep); err != nil {
				return nil, fmt.Errorf("path file line %d: %w", line, err)
			}
		} else {
			fields = splitFields(raw, sep, fields[:0])
		}
		field := func(i int) []byte {
			if c := idx[i]; c >= 0 && c < len(fields) {
				return bytes.TrimSpace(fields[c])
			}
			return nil
		}
		// The path: channels trimmed.
		chs = chs[:0]
		p := field(0)
		for {
			part, rest, more := bytes.Cut(p, []byte{'>'})
			if ch := bytes.TrimSpace(part); len(ch) > 0 {
				id, err := agg.channel(ch)
				if err != nil {
					return nil, err
				}
				chs = append(chs, id)
			}
			if !more {
				break
			}
			p = rest
		}
		if len(chs) == 0 {
			return nil, fmt.Errorf("path file line %d, column path: empty path", line)
		}
		var v [3]float64
		for i := range 3 {
			if idx[i+1] < 0 {
				continue
			}
			f := field(i + 1)
			n, perr := parseCount(f)
			if perr != nil {
				return nil, fmt.Errorf("path file line %d, column %s: %q is not a number >= 0", line, pathColumns[i+1], f)
			}
			v[i] = n
		}
		agg.add(chs, v)
		if err == io.EOF {
			break
		}
	}
	if agg.set.Len() == 0 {
		return nil, errors.New("path file has no rows")
	}
	return &agg.set, nil
}

// pathAgg sums rows by path into a set. Paths are found by an open-addressing table of
// their indices in the set, hashed on their channel ids: no key is stored beside the set.
type pathAgg struct {
	set   Set
	chIDs map[string]uint16
	seed  maphash.Seed
	slots []uint64 // 0: empty; else hash<<32 | (path index + 1)
	key   []byte   // scratch: the channel ids being hashed, two bytes each
}

func newPathAgg() *pathAgg {
	a := &pathAgg{chIDs: map[string]uint16{}, seed: maphash.MakeSeed(), slots: make([]uint64, 1024)}
	a.set.Off = []int64{0}
	return a
}

// fewChannels: up to this many channels, a name is looked up by comparing it with each.
const fewChannels = 16

func (a *pathAgg) channel(name []byte) (uint16, error) {
	if len(a.set.Channels) <= fewChannels {
		for i, c := range a.set.Channels {
			if c == string(name) {
				return uint16(i), nil
			}
		}
	} else if id, ok := a.chIDs[string(name)]; ok {
		return id, nil
	}
	if len(a.set.Channels) >= math.MaxUint16 {
		return 0, fmt.Errorf("more than %d channels", math.MaxUint16)
	}
	id := uint16(len(a.set.Channels))
	a.chIDs[string(name)] = id
	a.set.Channels = append(a.set.Channels, string(name))
	return id, nil
}

func (a *pathAgg) add(chs []uint16, v [3]float64) {
	s := &a.set
	a.key = a.key[:0]
	for _, c := range chs {
		a.key = append(a.key, byte(c), byte(c>>8))
	}
	h := uint32(maphash.Bytes(a.seed, a.key))
	if 2*(s.Len()+1) > len(a.slots) {
		a.grow()
	}
	mask := len(a.slots) - 1
	for i := int(h) & mask; ; i = (i + 1) & mask {
		e := a.slots[i]
		if e == 0 {
			a.slots[i] = uint64(h)<<32 | uint64(s.Len()+1)
			// Doubling (reserve) rather than append's quarter steps for large arrays:
			// each step copies the whole array.
			s.Ch = reserve(s.Ch, len(chs))
			if len(s.Conv) == cap(s.Conv) {
				s.Off, s.Conv = reserve(s.Off, 1), reserve(s.Conv, 1)
				s.Value, s.Nulls = reserve(s.Value, 1), reserve(s.Nulls, 1)
			}
			s.Ch = append(s.Ch, chs...)
			s.Off = append(s.Off, int64(len(s.Ch)))
			s.Conv = append(s.Conv, v[0])
			s.Value = append(s.Value, v[1])
			s.Nulls = append(s.Nulls, v[2])
			return
		}
		if uint32(e>>32) != h {
			continue
		}
		if j := int(uint32(e)) - 1; slices.Equal(s.Ch[s.Off[j]:s.Off[j+1]], chs) {
			s.Conv[j] += v[0]
			s.Value[j] += v[1]
			s.Nulls[j] += v[2]
			return
		}
	}
}

// grow doubles the table; entries keep their hash, so nothing is hashed again.
func (a *pathAgg) grow() {
	slots := make([]uint64, 2*len(a.slots))
	mask := len(slots) - 1
	for _, e := range a.slots {
		if e == 0 {
			continue
		}
		i := int(uint32(e>>32)) & mask
		for slots[i] != 0 {
			i = (i + 1) & mask
		}
		slots[i] = e
	}
	a.slots = slots
}

// parseCount reads a finite number >= 0; an empty field is 0.
func parseCount(f []byte) (float64, error) {
	if len(f) == 0 {
		return 0, nil
	}
	// Plain non-negative integers (most counts) without strconv.
	n := 0.0
	plain := len(f) <= 15
	for _, c := range f {
		if c < '0' || c > '9' {
			plain = false
			break
		}
		n = n*10 + float64(c-'0')
	}
	if plain {
		return n, nil
	}
	v, err := strconv.ParseFloat(string(f), 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
		return 0, errors.New("not a number >= 0")
	}
	return v, nil
}

// splitFields splits an unquoted line on sep.
func splitFields(line []byte, sep byte, out [][]byte) [][]byte {
	for {
		i := bytes.IndexByte(line, sep)
		if i < 0 {
			return append(out, line)
		}
		out = append(out, line[:i])
		line = line[i+1:]
	}
}

// splitQuoted splits a line with CSV quoting.
func splitQuoted(line []byte, sep byte) ([][]byte, error) {
	cr := csv.NewReader(bytes.NewReader(line))
	cr.Comma = rune(sep)
	cr.FieldsPerRecord = -1
	cr.LazyQuotes = true
	cr.TrimLeadingSpace = true
	rec, err := cr.Read()
	if err == io.EOF {
		return [][]byte{nil}, nil
	}
	if err != nil {
		return nil, err
	}
	out := make([][]byte, len(rec))
	for i, f := range rec {
		out[i] = []byte(f)
	}
	return out, nil
}
