# The usage-policy decision of the DOdata connector: data.connector.decision.
#
# The input is made by connector/policy/input.py (build_input): every field present, every time
# an integer of epoch seconds, the requester's region already expanded to region_path
# (["DE-NW", "DE", "EU"]). This file still reads every value through object.get with a default,
# and no `not` ever looks at a value that might be undefined: OPA and the embedded engine
# (regopy) disagree there. Rego here parses no dates and calls no sprintf, for the same reason.
#
# Decision: {"allow": bool, "reasons": [{"code", "message"}], "obligations": [duty, ...]}.
# Deny unless no check fails; reasons sorted by code, each code at most once.
package connector

known_actions := {"catalog", "negotiate", "transfer"}

# Actions that use the data under the policy (as opposed to seeing that it is offered).
use_actions := {"negotiate", "transfer"}

# Fail closed when the decision cannot be evaluated at all.
default decision := {
	"allow": false,
	"reasons": [{"code": "policy_error", "message": "the policy could not be evaluated"}],
	"obligations": [],
}

decision := {"allow": allow, "reasons": reasons, "obligations": obligations}

allow := count(reason_codes) == 0

reasons := [{"code": code, "message": messages[code]} | some code in sort(reason_codes)]

obligations := duties if {
	allow
	action in use_actions
} else := []

# --- what fails -----------------------------------------------------------------------------

reason_codes contains "unknown_action" if not action in known_actions

reason_codes contains "input_invalid" if {
	action in known_actions
	count(missing_fields) > 0
}

# Visibility: who may see an offer at all (and so also negotiate and transfer).
reason_codes contains "recipient_not_allowed" if {
	action in known_actions
	not recipient_ok
}

reason_codes contains "org_type_not_allowed" if {
	action in known_actions
	not org_type_ok
}

reason_codes contains "region_not_allowed" if {
	action in known_actions
	not region_ok
}

# Use: purpose, time, consent, approval, duties; the count only limits transfers.
reason_codes contains "purpose_missing" if {
	action in use_actions
	purposes != null
	not is_string(purpose)
}

reason_codes contains "purpose_not_allowed" if {
	action in use_actions
	is_string(purpose)
	not purpose_ok
}

reason_codes contains "outside_window" if {
	action in use_actions
	not within_window
}

reason_codes contains "count_exceeded" if {
	action == "transfer"
	not count_ok
}

reason_codes contains "consent_missing" if {
	action in use_actions
	consent_needed
	not consent_given
}

reason_codes contains "approval_missing" if {
	action in use_actions
	approval_needed
	not approved
}

reason_codes contains "obligation_unsupported" if {
	action in use_actions
	not duties_ok
}

missing_fields contains "policy" if not is_object(policy_doc)

missing_fields contains "subject.participant" if not non_empty_string(participant)

missing_fields contains "resource.dataset" if not non_empty_string(dataset)

missing_fields contains "context.now" if not is_number(now)

# --- the input, with a default for everything -----------------------------------------------

input_doc := input if {
	is_object(input)
} else := {}

action := a if {
	a := object.get(input_doc, "action", "")
	is_string(a)
} else := ""

subject := as_object(object.get(input_doc, "subject", {}))

resource := as_object(object.get(input_doc, "resource", {}))

policy_doc := object.get(input_doc, "policy", null)

policy := as_object(policy_doc)

context := as_object(object.get(input_doc, "context", {}))

participant := object.get(subject, "participant", null)

org_type := object.get(subject, "org_type", null)

region_path := as_array(object.get(subject, "region_path", []))

dataset := object.get(resource, "dataset", null)

data_subject := object.get(resource, "data_subject", null)

now := object.get(context, "now", null)

purpose := object.get(context, "purpose", null)

usage_count := object.get(context, "usage_count", null)

consents := as_array(object.get(context, "consents", []))

approval := as_object(object.get(context, "approval", {}))

purposes := object.get(policy, "purposes", null)

assignees := object.get(policy, "assignees", null)

org_types := object.get(policy, "org_types", null)

regions := object.get(policy, "regions", null)

window := as_object(object.get(policy, "window", {}))

not_before := object.get(window, "not_before", null)

not_after := object.get(window, "not_after", null)

max_count := object.get(policy, "max_count", null)

duties_doc := object.get(policy, "duties", [])

duties := as_array(duties_doc)

as_object(x) := x if {
	is_object(x)
} else := {}

as_array(x) := x if {
	is_array(x)
} else := []

non_empty_string(x) if {
	is_string(x)
	x != ""
}

# x is in the list `xs`; false (not an error) when xs is not a list.
listed(x, xs) if {
	is_array(xs)
	x in xs
}

strings(xs) if {
	is_array(xs)
	every x in xs {
		is_string(x)
	}
}
