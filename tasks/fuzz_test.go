package tasks

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// FuzzDecode checks that Decode never panics and that what it accepts survives
// Encode and Decode unchanged. The seed corpus is in testdata/fuzz/FuzzDecode.
func FuzzDecode(f *testing.F) {
	for _, typ := range Types() {
		c, k, err := ParseType(typ)
		require.NoError(f, err)
		data, err := Encode(fullMessage(c, k))
		require.NoError(f, err)
		f.Add(data)
	}

	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := Decode(data)
		if err != nil {
			require.ErrorIs(t, err, ErrInvalid)
			require.Nil(t, m)
			return
		}
		want, err := Decode(data)
		require.NoError(t, err)

		encoded, err := Encode(m)
		require.NoError(t, err)
		require.Equal(t, want, m, "Validate is not idempotent")

		got, err := DecodeTask(m.Type(), encoded)
		require.NoError(t, err)
		require.Equal(t, want, got)
	})
}

// FuzzNormalizePhone checks that NormalizePhone returns E.164 digits or an
// error, keeps the digits it was given, and is idempotent. The seed corpus is
// in testdata/fuzz/FuzzNormalizePhone.
func FuzzNormalizePhone(f *testing.F) {
	f.Fuzz(func(t *testing.T, s string) {
		p, err := NormalizePhone(s)
		if err != nil {
			require.ErrorIs(t, err, ErrInvalid)
			require.Empty(t, p)
			return
		}
		require.GreaterOrEqual(t, len(p), 8)
		require.LessOrEqual(t, len(p), 15)
		require.NotEqual(t, byte('0'), p[0])
		require.Equal(t, -1, strings.IndexFunc(p, func(r rune) bool { return r < '0' || r > '9' }))

		var digits strings.Builder
		for _, r := range s {
			if '0' <= r && r <= '9' {
				digits.WriteRune(r)
			}
		}
		require.Contains(t, []string{p, "00" + p}, digits.String())

		again, err := NormalizePhone(p)
		require.NoError(t, err)
		require.Equal(t, p, again)
		again, err = NormalizePhone("+" + p)
		require.NoError(t, err)
		require.Equal(t, p, again)
	})
}
