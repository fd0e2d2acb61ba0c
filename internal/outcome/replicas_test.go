package outcome

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestReplicated(t *testing.T) {
	ctx := context.Background()
	s, b := setup(t)
	n, err := s.Replicated(ctx, 0)
	require.NoError(t, err)
	require.Zero(t, n, "nothing asked, nothing waited for")

	// miniredis has no replicas: WAIT reaches none of the one asked for.
	n, err = s.Replicated(ctx, 1)
	require.NoError(t, err)
	require.Zero(t, n)

	b.mr.Close()
	_, err = s.Replicated(ctx, 1)
	require.Error(t, err)
}
