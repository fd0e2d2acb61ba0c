package tasks_test

import (
	"errors"
	"fmt"

	"github.com/sendq/sendq/tasks"
)

func ExampleMessage_Validate() {
	m := &tasks.Message{
		ID:      " order-42 ",
		Channel: "WhatsApp",
		Kind:    tasks.KindText,
		To:      tasks.Recipient{Phone: "+65 9876-5432"},
		Text:    "Your order has shipped.",
	}
	if err := m.Validate(); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(m.ID, m.Channel, m.To.Phone, m.To.Redacted())

	m.To.Phone = "12345"
	err := m.Validate()
	fmt.Println(err)
	fmt.Println(errors.Is(err, tasks.ErrInvalid))
	// Output:
	// order-42 whatsapp 6598765432 p:…5432
	// to.phone: must be 8 to 15 digits with country code
	// true
}

func ExampleTypeName() {
	fmt.Println(tasks.TypeName(tasks.WhatsApp, tasks.KindTemplate))
	fmt.Println(len(tasks.Types()), "task types, from", tasks.Types()[0], "to", tasks.Types()[11])

	c, k, err := tasks.ParseType("send:telegram:media")
	fmt.Println(c, k, err)
	// Output:
	// send:whatsapp:template
	// 12 task types, from send:whatsapp:text to send:messenger:template
	// telegram media <nil>
}
