package pvesim

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// ticketLifetime is how long PVE accepts a ticket.
const ticketLifetime = 2 * time.Hour

// authenticator checks API tokens and tickets. Tokens are those of the
// access configuration, each with its secret; root@pam logs in with a
// password.
type authenticator struct {
	access   *accessConfig
	user     string // root@pam
	password string
	key      []byte // signs tickets and CSRF tokens
	now      func() time.Time
}

// tokenSecret is the secret of a token: the root token's is given or saved
// in the state dir; every other token's is derived from the simulator's
// auth key, so it stays the same across restarts on one state dir.
func (a *authenticator) tokenSecret(tokenID string) string {
	tok := a.access.token(tokenID)
	if tok == nil {
		return ""
	}
	if tok.secret != "" {
		return tok.secret
	}
	sum := a.sign("token:" + tokenID)
	h := fmt.Sprintf("%x", []byte(sum))
	return h[0:8] + "-" + h[8:12] + "-4" + h[13:16] + "-a" + h[17:20] + "-" + h[20:32]
}

// check authenticates an API request and returns the user: the token id for
// an API token, else the ticket's user. Writes with a ticket need the CSRF
// prevention token.
func (a *authenticator) check(r *http.Request) (string, *apiError) {
	if h := r.Header.Get("Authorization"); h != "" {
		if v, ok := extractAuthValue(h); ok {
			return a.verifyToken(v)
		}
	}
	ticket := ""
	if c, err := r.Cookie("PVEAuthCookie"); err == nil {
		ticket = c.Value
		if u, err := url.PathUnescape(ticket); err == nil {
			ticket = u
		}
	}
	if ticket == "" {
		return "", authErr("No ticket")
	}
	user, ok := a.verifyTicket(ticket)
	if !ok {
		return "", authErr("invalid PVE ticket")
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		if !a.verifyCSRF(user, r.Header.Get("CSRFPreventionToken")) {
			return "", authErr("Permission denied - invalid csrf token")
		}
	}
	return user, nil
}

var reAPIToken = regexp.MustCompile(`(?:^|\s)PVEAPIToken(?:=| )([^;]*)`)

// extractAuthValue mirrors PVE's extract_auth_value for the API token:
// "PVEAPIToken=value" or "PVEAPIToken value" after the start or a blank,
// up to ";", URI-unescaped.
func extractAuthValue(header string) (string, bool) {
	m := reAPIToken.FindStringSubmatch(header)
	if m == nil {
		return "", false
	}
	v := m[1]
	if u, err := url.PathUnescape(v); err == nil {
		v = u
	}
	return v, true
}

// verifyToken checks "USER@REALM!TOKENID=SECRET" with PVE's messages.
func (a *authenticator) verifyToken(v string) (string, *apiError) {
	id, secret, ok := strings.Cut(v, "=")
	if !ok || secret == "" {
		return "", authErr("no token value specified")
	}
	user, tokenName, ok := strings.Cut(id, "!")
	if !ok || tokenName == "" {
		return "", authErr(fmt.Sprintf("invalid token ID '%s'", id))
	}
	if u := a.access.users[user]; u == nil || !u.enabled {
		return "", authErr(fmt.Sprintf("user '%s' does not exist", user))
	}
	if a.access.token(id) == nil {
		return "", authErr(fmt.Sprintf("no such token '%s' for user '%s'", tokenName, user))
	}
	if subtle.ConstantTimeCompare([]byte(secret), []byte(a.tokenSecret(id))) != 1 {
		return "", authErr("invalid token value!")
	}
	return id, nil
}

func (a *authenticator) sign(data string) string {
	m := hmac.New(sha256.New, a.key)
	m.Write([]byte(data))
	return base64.RawStdEncoding.EncodeToString(m.Sum(nil))
}

// newTicket returns a ticket in PVE's shape: PVE:USER:HEXTIME::SIGNATURE.
func (a *authenticator) newTicket(user string) string {
	data := fmt.Sprintf("PVE:%s:%08X", user, a.now().Unix())
	return data + "::" + a.sign(data)
}

func (a *authenticator) verifyTicket(t string) (string, bool) {
	data, sig, ok := strings.Cut(t, "::")
	if !ok || !hmac.Equal([]byte(sig), []byte(a.sign(data))) {
		return "", false
	}
	parts := strings.Split(data, ":")
	if len(parts) != 3 || parts[0] != "PVE" {
		return "", false
	}
	ts, err := strconv.ParseInt(parts[2], 16, 64)
	if err != nil {
		return "", false
	}
	age := a.now().Sub(time.Unix(ts, 0))
	if age < -5*time.Minute || age > ticketLifetime {
		return "", false
	}
	return parts[1], true
}

// newCSRF returns a CSRF prevention token: HEXTIME:SIGNATURE.
func (a *authenticator) newCSRF(user string) string {
	ts := fmt.Sprintf("%08X", a.now().Unix())
	return ts + ":" + a.sign("CSRF:"+ts+":"+user)
}

func (a *authenticator) verifyCSRF(user, token string) bool {
	ts, sig, ok := strings.Cut(token, ":")
	if !ok || len(ts) != 8 {
		return false
	}
	if !hmac.Equal([]byte(sig), []byte(a.sign("CSRF:"+ts+":"+user))) {
		return false
	}
	n, err := strconv.ParseInt(ts, 16, 64)
	if err != nil {
		return false
	}
	age := a.now().Sub(time.Unix(n, 0))
	return age >= -5*time.Minute && age <= ticketLifetime
}

// login checks a username and password (or a still valid ticket, which PVE
// accepts as password to renew it).
func (a *authenticator) login(username, realm, password string) (string, bool) {
	if !strings.Contains(username, "@") && realm != "" {
		username += "@" + realm
	}
	if username != a.user {
		return "", false
	}
	if subtle.ConstantTimeCompare([]byte(password), []byte(a.password)) == 1 {
		return username, true
	}
	if u, ok := a.verifyTicket(password); ok && u == username {
		return username, true
	}
	return "", false
}

// handleTicket serves POST /access/ticket.
func (s *server) handleTicket(r *request) (any, error) {
	user, ok := s.auth.login(r.params["username"], r.params["realm"], r.params["password"])
	if !ok {
		return nil, authErr("authentication failure")
	}
	one := map[string]int{}
	caps := map[string]map[string]int{
		"vms":     one,
		"storage": one,
		"access":  one,
		"nodes":   one,
		"dc":      one,
		"sdn":     one,
		"mapping": one,
	}
	for _, p := range []string{"VM.Allocate", "VM.Audit", "VM.Clone", "VM.Config.Disk", "VM.Config.CPU", "VM.Config.Memory", "VM.Config.Network", "VM.Config.Options", "VM.PowerMgmt", "VM.Snapshot", "VM.Console", "Datastore.Allocate", "Datastore.AllocateSpace", "Datastore.Audit", "Sys.Audit", "Sys.Modify", "Permissions.Modify"} {
		one[p] = 1
	}
	out := map[string]any{
		"username":            user,
		"ticket":              s.auth.newTicket(user),
		"CSRFPreventionToken": s.auth.newCSRF(user),
		"cap":                 caps,
	}
	if len(s.opts.Nodes) > 1 {
		out["clustername"] = s.opts.ClusterName
	}
	return out, nil
}
