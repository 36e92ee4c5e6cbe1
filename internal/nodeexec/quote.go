package nodeexec

import (
	"errors"
	"fmt"
	"strings"
)

// ErrNUL is returned for a string that contains a NUL byte: such a string
// cannot be an element of a remote argument vector.
var ErrNUL = errors.New("argument contains a NUL byte, which cannot be passed in a command line")

// Quote returns s quoted for a POSIX shell so that the shell reads it back as
// exactly one word equal to s. Words made only of characters that no shell
// treats specially are returned as they are; anything else is wrapped in
// single quotes, and each single quote inside is closed, escaped and reopened:
//
//	it's  ->  'it'\''s'
//
// The empty string becomes a pair of single quotes. Quote returns ErrNUL when
// s contains a NUL byte.
func Quote(s string) (string, error) {
	if strings.IndexByte(s, 0) >= 0 {
		return "", ErrNUL
	}
	if s == "" {
		return "''", nil
	}
	if isPlainWord(s) {
		return s, nil
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'", nil
}

// Join quotes every element of argv with Quote and joins them with spaces,
// giving a command line that a POSIX shell splits back into exactly argv. It
// returns an error naming the first element that contains a NUL byte.
func Join(argv []string) (string, error) {
	var b strings.Builder
	for i, a := range argv {
		q, err := Quote(a)
		if err != nil {
			return "", fmt.Errorf("argument %d: %w", i, err)
		}
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(q)
	}
	return b.String(), nil
}

// isPlainWord reports whether s needs no quoting. The set is deliberately
// small: '=' is left out (a leading NAME=value word is an assignment), as are
// '~', '%', '{' and every other character with a meaning in some shell.
func isPlainWord(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == '-', c == '_', c == '.', c == '/', c == ':', c == ',', c == '+', c == '@':
		default:
			return false
		}
	}
	return true
}
