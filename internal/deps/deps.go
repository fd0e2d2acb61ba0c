//go:build tools

// Package deps pins the modules sendq is about to use so that `go mod tidy`
// keeps them while the code that imports them is being written.
package deps

import (
	_ "github.com/alicebob/miniredis/v2"
	_ "github.com/hibiken/asynq"
	_ "github.com/hibiken/asynqmon"
	_ "github.com/prometheus/client_golang/prometheus"
	_ "github.com/redis/go-redis/v9"
	_ "github.com/stretchr/testify/require"
	_ "golang.org/x/time/rate"
)
