# The usage-policy decision of the DOdata connector: data.connector.decision.
#
# The input is made by connector/policy/input.py (build_input): every field present, every time
# an integer of epoch seconds, the requester's region already expanded to region_path
# (["DE-NW", "DE", "EU"]). The full evaluation below still reads every value with a default, and
# no `not` ever looks at a value that might be undefined: OPA and the embedded engine (regopy)
# disagree there. Rego here parses no dates and calls no sprintf, for the same reason, and never
# unifies with `=` (regopy compiles `x = "a"` with x bound as an assignment).
#
# Decision: {"allow": bool, "reasons": [{"code", "message"}], "obligations": [duty, ...]}.
# Deny unless no check fails; reasons sorted by code, each code at most once.
#
# Cost: every evaluated expression costs both engines microseconds, and regopy looks up an
# object key by comparing it with each key before it. So a request goes first through
# fast_decision, one pass over the input read into local variables that only ever allows;
# whatever it does not allow (a failing check, an absent or ill-typed field) goes through
# full_decision, which evaluates every check once and builds the reasons of a deny.
package connector

# What an action does: 0 sees that an offer exists; 1 uses the data under the policy; 2 uses it
# and counts against the agreement's transfer limit. Anything else is unknown.
action_kinds := {"catalog": 0, "negotiate": 1, "transfer": 2}

# The embedded engine relies on exactly this definition (connector/policy/embedded.py): it asks
# for fast_decision, and for full_decision only where fast_decision is undefined.
decision := d if {
	d := fast_decision
} else := full_decision

# --- the common case: an allowed request, in one pass ---------------------------------------
# Defined only for a request that passes every check, and then equal to what full_decision
# decides: connector_test.rego holds the two together on every case. An absent key fails here
# (and only here: full_decision reads it as null). Each helper below is the positive side of a
# check in checks.rego. Written for the engines' costs: every object is read once into a local;
# `xs[_] == x` rather than `x in xs` and `not x == ""` rather than `x != ""` (regopy calls a
# builtin for `in` and `!=`); alternatives are `else` branches with their guard first (regopy
# runs every body of a function, and matches a constant argument in a function head only after
# running the body).

fast_decision := {"allow": true, "reasons": [], "obligations": obligations} if {
	action := input.action
	policy := input.policy
	subject := input.subject
	participant := subject.participant
	is_string(participant)
	not participant == ""
	resource := input.resource
	dataset := resource.dataset
	is_string(dataset)
	not dataset == ""
	context := input.context
	now := context.now
	is_number(now)
	open_or_listed(policy.assignees, participant)
	open_or_listed(policy.org_types, subject.org_type)
	open_or_some_listed(policy.regions, subject.region_path)
	obligations := fast_use(action, policy, context, resource, participant, dataset, now)
}

# A catalog request only sees that an offer exists: no use checks, no obligations.
fast_use(action, policy, context, resource, participant, dataset, now) := [] if {
	action == "catalog"
} else := duties if {
	fast_count(action, policy, context)
	fast_purpose(policy.purposes, context.purpose)
	window := policy.window
	fast_starts(window.not_before, now)
	fast_ends(window.not_after, now)
	fast_consent(policy.consent_required, resource.personal_data)
	fast_approval(policy.approval_required, context, participant, dataset)
	duties := policy.duties
	is_array(duties)
	every duty in duties {
		duty_supported(duty)
	}
}

fast_count(action, policy, context) if {
	action == "negotiate"
} else if {
	action == "transfer"
	fast_below(policy.max_count, context.usage_count)
}

fast_below(limit, used) if {
	is_number(limit)
	is_number(used)
	used < limit
} else if {
	limit == null
}

open_or_listed(xs, x) if {
	is_array(xs)
	xs[_] == x
} else if {
	xs == null
}

open_or_some_listed(xs, ys) if {
	is_array(xs)
	is_array(ys)
	some y in ys
	xs[_] == y
} else if {
	xs == null
}

fast_purpose(purposes, purpose) if {
	is_array(purposes)
	is_string(purpose)
	purposes[_] == purpose
} else if {
	purposes == null
}

fast_starts(t, now) if {
	is_number(t)
	now >= t
} else if {
	t == null
}

fast_ends(t, now) if {
	is_number(t)
	now <= t
} else if {
	t == null
}

fast_consent(required, personal) if {
	required == false
	personal == false
} else if {
	consent_ok
}

fast_approval(required, context, participant, dataset) if {
	required == false
} else if {
	approval := context.approval
	approval.status == "approved"
	approval.participant == participant
	approval.dataset == dataset
}

# --- every request: all checks, and the reasons of a deny -----------------------------------

# Fail closed when the checks cannot be evaluated at all.
default full_decision := {
	"allow": false,
	"reasons": [{"code": "policy_error", "message": "the policy could not be evaluated"}],
	"obligations": [],
}

full_decision := {"allow": allow, "reasons": reasons, "obligations": obligations}

allow := count(failures) == 0

obligations := duties if {
	allow
	kind >= 1
} else := []

reasons := [{"code": code, "message": failures[code]} | some code in sort(object.keys(failures))]

# Visibility: who may see an offer at all (and so also negotiate and transfer).
failures["unknown_action"] := unknown_action_message if kind < 0

failures["input_invalid"] := input_invalid_message if {
	kind >= 0
	not complete
}

failures["recipient_not_allowed"] := recipient_message if {
	kind >= 0
	not recipient_ok
}

failures["org_type_not_allowed"] := org_type_message if {
	kind >= 0
	not org_type_ok
}

failures["region_not_allowed"] := region_message if {
	kind >= 0
	not region_ok
}

# Use: purpose, time, consent, approval, duties; the count only limits transfers.
failures["purpose_missing"] := purpose_missing_message if {
	kind >= 1
	purposes != null
	not is_string(purpose)
}

failures["purpose_not_allowed"] := purpose_message if {
	kind >= 1
	is_string(purpose)
	not purpose_ok
}

failures["outside_window"] := window_message if {
	kind >= 1
	not within_window
}

failures["count_exceeded"] := count_message if {
	kind == 2
	not count_ok
}

failures["consent_missing"] := consent_message if {
	kind >= 1
	not consent_ok
}

failures["approval_missing"] := approval_message if {
	kind >= 1
	not approval_ok
}

failures["obligation_unsupported"] := "the policy carries a duty this connector cannot enforce" if {
	kind >= 1
	not duties_ok
}

missing_fields contains "policy" if not is_object(object.get(input, "policy", null))

missing_fields contains "subject.participant" if not non_empty_string(participant)

missing_fields contains "resource.dataset" if not non_empty_string(dataset)

missing_fields contains "context.now" if not is_number(now)

# --- the input, with a default for everything -----------------------------------------------
# Every failure first looks at `kind`, which is -1 unless the input is an object with a known
# action, so the object.get calls below only ever see an object. A path through a value that is
# not an object yields the default, as if that value were {}.

action := a if {
	a := input.action
	is_string(a)
} else := ""

kind := object.get(action_kinds, action, -1)

participant := object.get(input, ["subject", "participant"], null)

org_type := object.get(input, ["subject", "org_type"], null)

region_path := object.get(input, ["subject", "region_path"], [])

dataset := object.get(input, ["resource", "dataset"], null)

data_subject := object.get(input, ["resource", "data_subject"], null)

now := object.get(input, ["context", "now"], null)

purpose := object.get(input, ["context", "purpose"], null)

usage_count := object.get(input, ["context", "usage_count"], null)

consents := object.get(input, ["context", "consents"], [])

purposes := object.get(input, ["policy", "purposes"], null)

assignees := object.get(input, ["policy", "assignees"], null)

org_types := object.get(input, ["policy", "org_types"], null)

regions := object.get(input, ["policy", "regions"], null)

not_before := object.get(input, ["policy", "window", "not_before"], null)

not_after := object.get(input, ["policy", "window", "not_after"], null)

max_count := object.get(input, ["policy", "max_count"], null)

duties := object.get(input, ["policy", "duties"], [])

non_empty_string(x) if {
	is_string(x)
	x != ""
}

# Every element of xs is a string (false when xs is not a list).
strings(xs) if {
	is_array(xs)
	every x in xs {
		is_string(x)
	}
}
