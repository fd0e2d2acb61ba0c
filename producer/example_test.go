package producer_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/sendq/sendq/producer"
	"github.com/sendq/sendq/tasks"
)

func Example() {
	mr, err := miniredis.Run() // an in-process Redis; use your own in production
	if err != nil {
		panic(err)
	}
	defer mr.Close()
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	defer rdb.Close()
	p, err := producer.New(producer.Config{Redis: rdb})
	if err != nil {
		panic(err)
	}
	ctx := context.Background()

	m := tasks.Message{
		ID:       "order-1042-shipped", // the idempotency key
		Channel:  tasks.WhatsApp,
		Kind:     tasks.KindTemplate,
		To:       tasks.Recipient{Phone: "+65 9876 5432"},
		Template: &tasks.Template{Name: "order_update", Language: "en", Params: []string{"Ada", "#1042"}},
	}
	r, err := p.Send(ctx, m)
	if err != nil {
		panic(err)
	}
	fmt.Println("enqueued:", r.ID, r.State)

	// The same id again enqueues nothing.
	r, err = p.Send(ctx, m)
	if err != nil {
		panic(err)
	}
	fmt.Println("again:", r.ID, r.State, "duplicate:", r.Duplicate)

	// Until a worker takes it, the outcome says queued.
	o, err := p.Status(ctx, "order-1042-shipped")
	if err != nil {
		panic(err)
	}
	fmt.Println("status:", o.State, o.Channel, o.Kind, "attempts:", o.Attempts)

	_, err = p.Status(ctx, "order-0000")
	fmt.Println("unknown id:", errors.Is(err, producer.ErrNotFound))
	// Output:
	// enqueued: order-1042-shipped queued
	// again: order-1042-shipped queued duplicate: true
	// status: queued whatsapp template attempts: 0
	// unknown id: true
}

func ExampleFields_Message() {
	f := producer.Fields{Channel: "telegram", ContactID: "c-77", Template: "Your table is ready.",
		Buttons: []string{"Directions=https://example.com/map"}}
	m, err := f.Message()
	if err != nil {
		panic(err)
	}
	fmt.Println(m.Channel, m.Kind, m.To.ContactID, m.Template.Text, m.Template.Buttons[0].URL)

	// Invalid input is a *tasks.ValidationError naming the field.
	f = producer.Fields{Channel: "whatsapp", ContactID: "c-77", Text: "hi", Template: "order_update"}
	_, err = f.Message()
	var v *tasks.ValidationError
	if errors.As(err, &v) {
		fmt.Println("invalid:", v.Field)
	}
	// Output:
	// telegram template c-77 Your table is ready. https://example.com/map
	// invalid: kind
}
