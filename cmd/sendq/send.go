package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sendq/sendq/internal/redisurl"
	"github.com/sendq/sendq/producer"
	"github.com/sendq/sendq/tasks"
)

// flagOf names the command-line flag behind a message field, so that an
// error names what the user typed.
var flagOf = map[string]string{
	"id": "--id", "channel": "--channel", "kind": "--text/--media-url/--template",
	"to": "--contact-id/--client-id/--phone", "to.contact_id": "--contact-id", "to.client_id": "--client-id",
	"to.phone": "--phone", "to.name": "--name", "text": "--text",
	"media.url": "--media-url", "media.mime_type": "--mime-type", "media.caption": "--caption",
	"template.name": "--template", "template.language": "--language", "template.text": "--template",
	"template.elements": "--element", "template.buttons": "--button", "template.params": "--param",
	"template.category": "--category",
	"campaign":          "--campaign", "expires_at": "--expires-in", "not_before": "--at", "account": "--account",
}

// fieldError rewrites a validation error to name the flag as well.
func fieldError(err error) error {
	var v *tasks.ValidationError
	if !errors.As(err, &v) {
		return err
	}
	f, ok := flagOf[v.Field]
	if !ok {
		if i := strings.IndexByte(v.Field, '['); i > 0 {
			f, ok = flagOf[v.Field[:i]]
		}
	}
	if ok {
		return usagef("%s (%s): %s", f, v.Field, v.Reason)
	}
	return usagef("%s: %s", v.Field, v.Reason)
}

// messageFlags are the flags that describe one message (send; the campaign
// flags are a subset).
type messageFlags struct {
	channel, contactID, clientID, phone, name string
	text, mediaURL, mimeType, caption         string
	template, language, category              string
	params, buttons, elements                 multi
}

func (f *messageFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.channel, "channel", "", "whatsapp, telegram, instagram or messenger")
	fs.StringVar(&f.contactID, "contact-id", "", "recipient: a Whautomate contact id")
	fs.StringVar(&f.clientID, "client-id", "", "recipient: a Whautomate client id")
	fs.StringVar(&f.phone, "phone", "", "recipient: an international phone number")
	fs.StringVar(&f.name, "name", "", "the recipient's name (with --phone)")
	fs.StringVar(&f.text, "text", "", "a text message")
	fs.StringVar(&f.mediaURL, "media-url", "", "a media message: https URL")
	fs.StringVar(&f.mimeType, "mime-type", "", "the media's MIME type")
	fs.StringVar(&f.caption, "caption", "", "the media's caption")
	fs.StringVar(&f.template, "template", "", "a template: its name (WhatsApp), its text (Telegram), its card title (Instagram, Messenger)")
	fs.StringVar(&f.language, "language", "", "the template's language (WhatsApp)")
	fs.StringVar(&f.category, "category", "", "the template's category: marketing, utility or authentication (default utility); opt-outs and quiet hours hold marketing templates only")
	fs.Var(&f.params, "param", "a template body parameter, in order (repeatable; WhatsApp)")
	fs.Var(&f.buttons, "button", "a Telegram template button TEXT=https://URL (repeatable)")
	fs.Var(&f.elements, "element", "an Instagram/Messenger template card as JSON {\"t\":title,\"s\":subtitle,\"i\":image_url} (repeatable)")
}

// message builds the message the flags describe.
func (f *messageFlags) message() (tasks.Message, error) {
	fields := producer.Fields{
		Channel: f.channel, ContactID: f.contactID, ClientID: f.clientID, Phone: f.phone, Name: f.name,
		Text: f.text, MediaURL: f.mediaURL, MimeType: f.mimeType, Caption: f.caption,
		Template: f.template, Language: f.language, Params: f.params, Buttons: f.buttons, Elements: f.elements,
		Category: f.category,
	}
	m, err := fields.Message()
	if err != nil {
		return m, fieldError(err)
	}
	return m, nil
}

func (a *app) send(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("send", flag.ContinueOnError)
	var mf messageFlags
	mf.register(fs)
	id := fs.String("id", "", "idempotency key (default: a new unique id)")
	at := fs.String("at", "", "RFC 3339 time: send no earlier than this")
	expiresIn := fs.String("expires-in", "", "Go duration: give up if not sent by then")
	campaign := fs.String("campaign", "", "the campaign this message belongs to")
	account := fs.String("account", "", "the account to send from (required when several are configured)")
	asJSON := fs.Bool("json", false, "print a JSON object")
	pos, err := a.parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("send takes no arguments, got %q", pos[0])
	}
	m, err := mf.message()
	if err != nil {
		return err
	}
	m.ID, m.Account, m.Campaign, m.CreatedAt = *id, *account, *campaign, time.Now()
	if *at != "" {
		t, err := time.Parse(time.RFC3339, *at)
		if err != nil {
			return usagef("--at (not_before): want an RFC 3339 time such as 2026-11-24T09:00:00Z")
		}
		m.NotBefore = t
	}
	if *expiresIn != "" {
		d, err := time.ParseDuration(*expiresIn)
		if err != nil || d <= 0 {
			return usagef("--expires-in (expires_at): want a positive Go duration such as 2h")
		}
		m.ExpiresAt = m.CreatedAt.Add(d)
	}
	if m.ID == "" {
		m.ID = producer.NewID()
	}
	// Validate before connecting: bad input never reaches Redis.
	if err := m.Validate(); err != nil {
		return fieldError(err)
	}
	if a.env.Accounts != nil {
		if _, err := pickAccount(a.env.Accounts, m.Account); err != nil {
			return err
		}
	}
	return a.withProducer(ctx, func(p *producer.Producer) error {
		r, err := p.Send(ctx, m)
		if err != nil {
			return fieldError(err)
		}
		if *asJSON {
			return json.NewEncoder(a.stdout).Encode(map[string]any{"id": r.ID, "state": r.State, "duplicate": r.Duplicate})
		}
		fmt.Fprintln(a.stdout, r.ID)
		return nil
	})
}

// withProducer runs fn with a Producer on REDIS_URL.
// The pool is sized for a campaign start's parallel enqueues.
func (a *app) withProducer(ctx context.Context, fn func(*producer.Producer) error) error {
	rdb, err := a.redis(ctx, 64)
	if err != nil {
		return err
	}
	defer rdb.Close()
	p, err := producer.New(producer.Config{Redis: rdb, Accounts: a.env.Accounts})
	if err != nil {
		return err
	}
	return fn(p)
}

// redis opens REDIS_URL and checks that it answers.
func (a *app) redis(ctx context.Context, poolSize int) (redis.UniversalClient, error) {
	rdb, err := redisurl.Open(a.env.RedisURL, poolSize)
	if err != nil {
		return nil, usagef("%v", err)
	}
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := rdb.Ping(pctx).Err(); err != nil {
		rdb.Close()
		return nil, fmt.Errorf("redis unreachable: %v", err)
	}
	return rdb, nil
}

func (a *app) status(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("status", flag.ContinueOnError)
	asJSON := fs.Bool("json", false, "print the outcome object as JSON")
	pos, err := a.parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("usage: %s", helps[fs.Name()].synopsis)
	}
	return a.withProducer(ctx, func(p *producer.Producer) error {
		o, err := p.Status(ctx, pos[0])
		if err != nil {
			return err
		}
		if *asJSON {
			return json.NewEncoder(a.stdout).Encode(o)
		}
		fmt.Fprintf(a.stdout, "%s\t%s\t%s/%s\tattempts=%d", o.ID, o.State, o.Channel, o.Kind, o.Attempts)
		if o.UpstreamID != "" {
			fmt.Fprintf(a.stdout, "\tupstream_id=%s", o.UpstreamID)
		}
		if o.Error != "" {
			fmt.Fprintf(a.stdout, "\terror=%q", o.Error)
		}
		if o.Reason != "" {
			fmt.Fprintf(a.stdout, "\treason=%s", o.Reason)
		}
		if !o.NotBefore.IsZero() {
			fmt.Fprintf(a.stdout, "\tnot_before=%s", o.NotBefore.UTC().Format(time.RFC3339))
		}
		fmt.Fprintln(a.stdout)
		return nil
	})
}
