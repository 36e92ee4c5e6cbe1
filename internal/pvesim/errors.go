package pvesim

import (
	"fmt"
	"net/http"
	"strings"
)

// apiError is a failure answered the way PVE's API server answers it: the
// message becomes the HTTP reason phrase, and parameter errors are listed in
// the body's "errors" object.
type apiError struct {
	status int
	msg    string
	errors map[string]string
}

func (e *apiError) Error() string {
	if len(e.errors) > 0 {
		var parts []string
		for k, v := range e.errors {
			parts = append(parts, k+": "+v)
		}
		return e.msg + " (" + strings.Join(parts, "; ") + ")"
	}
	return e.msg
}

// errf is PVE's plain die: HTTP 500 with the message as reason phrase.
func errf(format string, args ...any) *apiError {
	return &apiError{status: http.StatusInternalServerError, msg: fmt.Sprintf(format, args...)}
}

// paramErr is PVE's raise_param_exc: HTTP 400 "Parameter verification
// failed." with the messages per parameter.
func paramErr(errs map[string]string) *apiError {
	return &apiError{status: http.StatusBadRequest, msg: "Parameter verification failed.", errors: errs}
}

// paramErr1 is paramErr for a single parameter.
func paramErr1(param, msg string) *apiError {
	return paramErr(map[string]string{param: msg})
}

// authErr is a 401 with PVE's reason phrase.
func authErr(msg string) *apiError {
	return &apiError{status: http.StatusUnauthorized, msg: msg}
}

// notFoundConfig is load_config's message for a missing container.
func notFoundConfig(node string, vmid int) *apiError {
	return errf("Configuration file 'nodes/%s/lxc/%d.conf' does not exist", node, vmid)
}

// asAPIError converts any error into an apiError (plain errors become 500).
func asAPIError(err error) *apiError {
	if ae, ok := err.(*apiError); ok { //nolint:errorlint // only direct apiErrors carry a status.
		return ae
	}
	return errf("%s", err.Error())
}

// reasonPhrase makes a message safe for an HTTP status line: PVE's messages
// end with a newline that the server strips; other control characters
// would break the response.
func reasonPhrase(msg string) string {
	msg = strings.TrimRight(msg, "\n")
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, msg)
}
