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
// and the bytes are read as UTF-8, malformed sequences becoming U+FFFD.
// Perl keeps surrogates and code points above U+10FFFF, which become U+FFFD
// here, and its Encode module (3.17, as in PVE 8) drops a valid 3- or 4-byte
// character right after some malformed bytes, which is not reproduced. PVE
// never writes malformed UTF-8 into a description.
func DecodeText(s string) string {
	return decodeLaxUTF8(percentDecode(s))
}

// percentDecode replaces every "%XX" by its byte, as uri_unescape does.
func percentDecode(s string) []byte {
	raw := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]) {
			raw = append(raw, unhex(s[i+1])<<4|unhex(s[i+2]))
			i += 2
			continue
		}
		raw = append(raw, s[i])
	}
	return raw
}

// decodeLaxUTF8 reads raw as UTF-8 the way Perl's lax "utf8" decoding does
// in the common cases: a malformed sequence (a stray continuation byte, a
// start byte followed by too few continuation bytes, or an overlong form)
// becomes one U+FFFD.
func decodeLaxUTF8(raw []byte) string {
	if utf8.Valid(raw) {
		return string(raw)
	}
	var b strings.Builder
	b.Grow(len(raw) + 8)
	for i := 0; i < len(raw); {
		c := raw[i]
		if c < utf8.RuneSelf {
			b.WriteByte(c)
			i++
			continue
		}
		n := seqLen(c)
		if n == 0 {
			b.WriteRune(utf8.RuneError)
			i++
			continue
		}
		j := i + 1
		for j < len(raw) && j < i+n && raw[j]&0xc0 == 0x80 {
			j++
		}
		if _, size := utf8.DecodeRune(raw[i:j]); j == i+n && size == n {
			b.Write(raw[i:j])
		} else {
			b.WriteRune(utf8.RuneError)
		}
		i = j
	}
	return b.String()
}

// seqLen returns the length of the sequence that byte c (>= 0x80) starts in
// Perl's extended UTF-8, or 0 for a continuation byte.
func seqLen(c byte) int {
	switch {
	case c < 0xc0:
		return 0
	case c < 0xe0:
		return 2
	case c < 0xf0:
		return 3
	case c < 0xf8:
		return 4
	case c < 0xfc:
		return 5
	case c < 0xfe:
		return 6
	case c == 0xfe:
		return 7
	default:
		return 13
	}
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
