// Package taskq turns a message into its asynq task: the one place that
// says which queue, task id and retry limit a message's task has, for the
// producer and the campaign feeder alike.
package taskq

import (
	"time"

	"github.com/hibiken/asynq"

	"github.com/sendq/sendq/internal/keys"
	"github.com/sendq/sendq/tasks"
)

// Task returns m's task, which Validate has accepted (it is not validated
// again), and its options: its lane's queue, its account's task id, and
// held until processAt when that is not zero.
func Task(m *tasks.Message, processAt time.Time) (*asynq.Task, []asynq.Option, error) {
	payload, err := tasks.EncodeValidated(m)
	if err != nil {
		return nil, nil, err
	}
	opts := []asynq.Option{
		asynq.Queue(keys.Queue(string(m.Channel), m.Campaign != "")),
		asynq.TaskID(keys.TaskID(m.Account, m.ID)),
		asynq.MaxRetry(keys.TaskMaxRetry),
	}
	if !processAt.IsZero() {
		opts = append(opts, asynq.ProcessAt(processAt))
	}
	return asynq.NewTask(m.Type(), payload), opts, nil
}
