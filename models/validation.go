package models

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"
)

// Validator is implemented by every request and record the BBS accepts.
type Validator interface {
	Validate() error
}

const (
	// MaxAnnotationBytes bounds DesiredLRP and Task annotations.
	MaxAnnotationBytes = 10 * 1024
	// MaxRoutesBytes bounds the total size of a DesiredLRP's routes.
	MaxRoutesBytes = 128 * 1024
	// MaxCPUWeight is the largest cpu_weight a container may ask for.
	MaxCPUWeight = 100
)

var guidPattern = regexp.MustCompile(`^[a-zA-Z0-9_-]+$`)

// Rules, worded once so every field breaking one reads the same.
const (
	ruleRequired  = "is required"
	ruleGUID      = "must match " + `^[a-zA-Z0-9_-]+$`
	ruleRootFSURL = "must be a URL with a scheme (preloaded:NAME or docker:///IMAGE)"
	ruleNonNeg    = "must not be negative"
	ruleOneAction = "must hold exactly one action"
	ruleOneCheck  = "must hold exactly one check"
	rulePort      = "must be a port between 1 and 65535"
)

// FieldError names one field and the rule it breaks.
type FieldError struct {
	Field string
	Rule  string
}

func (e FieldError) Error() string { return e.Field + ": " + e.Rule }

// ValidationError lists every rule a record breaks, in field order.
type ValidationError []FieldError

func (e ValidationError) Error() string {
	parts := make([]string, len(e))
	for i, fe := range e {
		parts[i] = fe.Error()
	}
	return strings.Join(parts, "; ")
}

// fields collects FieldErrors under a path prefix ("desired_lrp.action.").
type fields struct {
	prefix string
	errs   *ValidationError
}

func newFields() fields { return fields{errs: &ValidationError{}} }

func (f fields) check(ok bool, field, rule string) {
	if !ok {
		*f.errs = append(*f.errs, FieldError{Field: f.prefix + field, Rule: rule})
	}
}

func (f fields) in(field string) fields {
	return fields{prefix: f.prefix + field + ".", errs: f.errs}
}

func (f fields) at(field string, i int) fields {
	return f.in(indexed(field, i))
}

func (f fields) guid(field, value string) {
	if value == "" {
		f.check(false, field, ruleRequired)
		return
	}
	f.check(guidPattern.MatchString(value), field, ruleGUID)
}

func (f fields) required(field, value string) {
	f.check(value != "", field, ruleRequired)
}

func (f fields) nonNegative(field string, value int64) {
	f.check(value >= 0, field, ruleNonNeg)
}

func (f fields) rootFS(field, value string) {
	if value == "" {
		f.check(false, field, ruleRequired)
		return
	}
	u, err := url.Parse(value)
	f.check(err == nil && u.Scheme != "", field, ruleRootFSURL)
}

func (f fields) maxBytes(field string, size, limit int) {
	f.check(size <= limit, field, fmt.Sprintf("must be at most %d bytes", limit))
}

func (f fields) cpuWeight(field string, value uint32) {
	f.check(value <= MaxCPUWeight, field, fmt.Sprintf("must be at most %d", MaxCPUWeight))
}

func (f fields) port(field string, value uint32) {
	f.check(value >= 1 && value <= 65535, field, rulePort)
}

func (f fields) err() error {
	if len(*f.errs) == 0 {
		return nil
	}
	return *f.errs
}
