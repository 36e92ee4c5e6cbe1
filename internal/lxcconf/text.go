package lxcconf

import (
	"strings"
	"unicode/utf8"
)

// EncodeText encodes one line of a description the way PVE::Tools::encode_text
// does: the UTF-8 bytes outside 0x20-0x39 and 0x3B-0x7E (control characters,
// ':', DEL and every non-ASCII byte) become "%XX" with upper-case hex. '%'
// itself is not encoded, as in PVE.
func EncodeText(s string) string {
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c >= 0x20 && c <= 0x39) || (c >= 0x3b && c <= 0x7e) {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexDigits[c>>4])
		b.WriteByte(hexDigits[c&0x0f])
	}
	return b.String()
}

// DecodeText decodes one description line the way PVE::Tools::decode_text
// does: every "%XX" (either case of hex) becomes its byte, other '%' stay,
// and the bytes are read as UTF-8 with each invalid byte replaced by U+FFFD.
func DecodeText(s string) string {
	raw := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]) {
			raw = append(raw, unhex(s[i+1])<<4|unhex(s[i+2]))
			i += 2
			continue
		}
		raw = append(raw, s[i])
	}
	if utf8.Valid(raw) {
		return string(raw)
	}
	var b strings.Builder
	for len(raw) > 0 {
		r, n := utf8.DecodeRune(raw)
		b.WriteRune(r) // utf8.RuneError for an invalid byte.
		raw = raw[n:]
	}
	return b.String()
}

func isHex(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

func unhex(c byte) byte {
	switch {
	case c >= '0' && c <= '9':
		return c - '0'
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10
	default:
		return c - 'A' + 10
	}
}
