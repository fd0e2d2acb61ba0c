package accounts_test

import (
	"fmt"
	"os"

	"github.com/sendq/sendq/accounts"
)

func ExampleLoad() {
	// A command passes os.LookupEnv and os.ReadFile.
	lookup := func(name string) (string, bool) {
		v, ok := map[string]string{
			"CLINIC_SG_KEY": "sk-sg-0123", "CLINIC_IN_KEY": "sk-in-4567", "SENDQ_TIMEZONE": "Asia/Kolkata",
		}[name]
		return v, ok
	}
	readFile := func(path string) ([]byte, error) {
		if path != "accounts.yaml" {
			return nil, os.ErrNotExist
		}
		return []byte(`accounts:
  - id: clinic-sg
    api_key_env: CLINIC_SG_KEY
    timezone: Asia/Singapore
    quiet_hours: "21:00-08:00"
  - id: clinic-in
    api_key_env: CLINIC_IN_KEY
    base_url: https://api.in.whautomate.com
    rate_limit: 60/m
    rates: {whatsapp: 20/s}
`), nil
	}

	set, err := accounts.Load("accounts.yaml", lookup, readFile)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, a := range set.All() {
		fmt.Printf("%s in %s, whatsapp %s, quiet %q\n", a, a.Timezone, a.Rates["whatsapp"], a.QuietHours)
	}

	_, err = accounts.Load("accounts.yaml", func(string) (string, bool) { return "", false }, readFile)
	fmt.Println(err)
	// Output:
	// clinic-sg (https://api.whautomate.com, budget 300/m) in Asia/Singapore, whatsapp 80/s, quiet "21:00-08:00"
	// clinic-in (https://api.in.whautomate.com, budget 60/m) in Asia/Kolkata, whatsapp 20/s, quiet ""
	// accounts.yaml: account clinic-sg: api_key_env: CLINIC_SG_KEY is not set
}

func ExampleFromEnv() {
	set, err := accounts.FromEnv(func(name string) (string, bool) {
		v, ok := map[string]string{"WHAUTOMATE_RATE_LIMIT": "60/m"}[name]
		return v, ok
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	a, _ := set.Only()
	fmt.Println(a)
	fmt.Println(set.RequireKeys())
	// Output:
	// default (https://api.whautomate.com, budget 60/m)
	// WHAUTOMATE_API_KEY: required
}
