package whautomate_test

import (
	"context"
	"fmt"
	"time"

	"github.com/sendq/sendq/whautomate"
)

func ExampleClassify() {
	outcomes := []error{
		nil,
		&whautomate.APIError{Status: 429, RetryAfter: 2 * time.Second},
		&whautomate.APIError{Status: 400, Code: 131047, HasCode: true, Message: "(#131047) Re-engagement message"},
		&whautomate.APIError{Status: 400, Code: 10, HasCode: true, Subcode: 2018278},
		&whautomate.APIError{Status: 400, Code: 131056, HasCode: true},
		&whautomate.APIError{Status: 200, Code: 131026, HasCode: true, Message: "Message undeliverable"},
		&whautomate.APIError{Status: 401, Message: "invalid api key"},
		&whautomate.APIError{Status: 400, Code: 131031, HasCode: true},
		&whautomate.TransportError{Op: "POST /v1/messages/whatsapp/sendtext", Err: context.DeadlineExceeded, Sent: true},
	}
	for _, err := range outcomes {
		fmt.Printf("%-22s retry after %v\n", whautomate.Classify(err), whautomate.RetryAfter(err))
	}
	// Output:
	// sent                   retry after 0s
	// rate_limited           retry after 2s
	// session_closed         retry after 0s
	// session_closed         retry after 0s
	// recipient_rate_limited retry after 0s
	// permanent              retry after 0s
	// configuration          retry after 0s
	// account_blocked        retry after 0s
	// transient              retry after 0s
}
