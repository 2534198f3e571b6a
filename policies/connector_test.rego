# Unit tests of data.connector.decision. Run: opa test policies/ --coverage
#
# `opa test policies/` also loads policies/cases/*.json as data.cases (one top-level key per
# file, named like the file, so the files merge), and test_every_case replays all of them here.
package connector_test

import data.connector

now := 1795867200

base := {
	"action": "negotiate",
	"subject": {
		"participant": "did:web:partner.example", "roles": [], "org_type": "company",
		"region": "DE-NW", "region_path": ["DE-NW", "DE", "EU"],
	},
	"resource": {
		"dataset": "urn:dataset:air-quality", "owner": "did:web:dew21.example",
		"personal_data": false, "data_subject": null,
	},
	"policy": {
		"id": "urn:offer:1", "kind": "offer", "target": null, "assigner": null,
		"purposes": null, "window": {"not_before": null, "not_after": null}, "max_count": null,
		"assignees": null, "org_types": null, "regions": null,
		"consent_required": false, "approval_required": false, "duties": [],
	},
	"context": {
		"now": now, "purpose": "research", "usage_count": 0, "consents": [],
		"approval": {"status": "none", "participant": null, "dataset": null},
	},
}

with_policy(patch) := object.union(base, {"policy": object.union(base.policy, patch)})

with_context(doc, patch) := object.union(doc, {"context": object.union(doc.context, patch)})

codes(doc) := [r.code | some r in d.reasons] if {
	d := connector.decision with input as doc
}

all_cases := [c | some topic, cases in data.cases; some c in cases]

# The names of the cases whose decision differs from the expected one (shown by --var-values).
failing_cases := {c.name |
	some c in all_cases
	got := connector.decision with input as c.input
	got != c.expected
}

test_every_case if {
	count(all_cases) >= 60
	failing_cases == set()
}

test_case_names_unique if {
	count({c.name | some c in all_cases}) == count(all_cases)
}

reason_codes := {
	"unknown_action", "input_invalid", "recipient_not_allowed", "org_type_not_allowed",
	"region_not_allowed", "purpose_missing", "purpose_not_allowed", "outside_window",
	"count_exceeded", "consent_missing", "approval_missing", "obligation_unsupported",
}

test_every_code_has_a_message if {
	given := {r.code |
		some c in all_cases
		d := connector.decision with input as c.input
		some r in d.reasons
		is_string(r.message)
		r.message != ""
	}
	given == reason_codes
}

# The one-pass path (fast_decision) only ever allows, and only what the full evaluation
# allows, with the same obligations; the full evaluation alone decides every case as expected too.
fast_path_disagrees := {c.name |
	some c in all_cases
	fast := connector.fast_decision with input as c.input
	full := connector.full_decision with input as c.input
	full != fast
}

full_evaluation_fails := {c.name |
	some c in all_cases
	got := connector.full_decision with input as c.input
	got != c.expected
}

fast_path_cases := {c.name |
	some c in all_cases
	connector.fast_decision with input as c.input
}

test_fast_path_agrees_with_full_evaluation if {
	fast_path_disagrees == set()
	full_evaluation_fails == set()
}

# What the embedded engine asks instead of decision: fast_decision, else full_decision.
fast_else_full(doc) := d if {
	d := connector.fast_decision with input as doc
} else := d if {
	d := connector.full_decision with input as doc
}

test_decision_is_fast_else_full if {
	disagree := {c.name |
		some c in all_cases
		d := connector.decision with input as c.input
		d != fast_else_full(c.input)
	}
	disagree == set()
	fast_else_full(["negotiate"]) == connector.decision with input as ["negotiate"]
}

# The allowed cases take the one-pass path (it is not dead code), except inputs with absent keys,
# which it leaves to the full evaluation.
test_fast_path_covers_the_common_allowed_cases if {
	count(fast_path_cases) >= 40
}

test_without_any_input if {
	d := connector.decision
	d.reasons == [{"code": "unknown_action", "message": "the action is not one of catalog, negotiate, transfer"}]
}

test_open_offer_allows if {
	d := connector.decision with input as base
	d == {"allow": true, "reasons": [], "obligations": []}
}

test_unknown_action_only_reason if {
	d := connector.decision with input as object.union(base, {"action": 7})
	d.reasons == [{"code": "unknown_action", "message": "the action is not one of catalog, negotiate, transfer"}]
}

test_input_not_an_object if {
	d := connector.decision with input as ["negotiate"]
	d.reasons == [{"code": "unknown_action", "message": "the action is not one of catalog, negotiate, transfer"}]
}

test_default_decision_fails_closed if {
	d := connector.decision with connector.failures as 7 with input as object.union(base, {"action": "sell"})
	d == {
		"allow": false,
		"reasons": [{"code": "policy_error", "message": "the policy could not be evaluated"}],
		"obligations": [],
	}
}

test_obligations_only_when_allowed if {
	doc := with_policy({"duties": [{"type": "notify_owner"}], "purposes": ["planning"]})
	d := connector.decision with input as doc
	d.obligations == []
	d.allow == false
	allowed := connector.decision with input as with_context(doc, {"purpose": "planning"})
	allowed.obligations == [{"type": "notify_owner"}]
}

test_ill_typed_constraints_fail_closed if {
	connector.decision.allow == false with input as with_policy({"assignees": "did:web:partner.example"})
	connector.decision.allow == false with input as with_policy({"org_types": {"company": true}})
	connector.decision.allow == false with input as with_policy({"window": {"not_before": "2026-01-01T00:00:00Z"}})
	connector.decision.allow == false with input as with_policy({"window": {"not_after": true}})
	connector.decision.allow == false with input as with_policy({"consent_required": "no"})
	connector.decision.allow == false with input as with_policy({"approval_required": 1})
}

test_window_messages if {
	early := connector.decision with input as with_policy({"window": {"not_before": now + 10, "not_after": null}})
	early.reasons[0].message == "the usage window opens at 1795867210 (epoch seconds); it is now 1795867200"
	late := connector.decision with input as with_policy({"window": {"not_before": null, "not_after": now - 10}})
	late.reasons[0].message == "the usage window closed at 1795867190 (epoch seconds); it is now 1795867200"
	bad := connector.decision with input as with_policy({"window": {"not_before": "soon", "not_after": null}})
	bad.reasons[0].message == "the current time is outside the policy's usage window"
}

test_count_needs_numbers if {
	doc := object.union(with_policy({"max_count": "3"}), {"action": "transfer"})
	d := connector.decision with input as doc
	d.reasons == [{"code": "count_exceeded", "message": "the agreement's transfer limit is reached"}]
}

test_consent_record_shapes if {
	personal := object.union(base, {"resource": object.union(base.resource, {
		"personal_data": true,
		"data_subject": "urn:subject:h1",
	})})
	valid := {
		"subject": "urn:subject:h1", "recipient": "did:web:partner.example",
		"purpose": "research", "dataset": null, "granted_at": null, "expires_at": null,
		"withdrawn_at": null,
	}
	connector.decision.allow with input as with_context(personal, {"consents": [valid]})
	connector.decision.allow with input as with_context(personal, {"consents": ["yes", valid]})
	not connector.decision.allow with input as with_context(personal, {"consents": ["yes"]})
	not connector.decision.allow with input as with_context(personal, {"consents": [object.union(valid, {"granted_at": "2026-01-01"})]})
	not connector.decision.allow with input as with_context(personal, {"consents": [object.union(valid, {"expires_at": "never"})]})
	not connector.decision.allow with input as with_context(personal, {"consents": [object.union(valid, {"dataset": 5})]})
	not connector.decision.allow with input as with_context(personal, {"consents": valid})
}

test_approval_needs_participant_and_dataset if {
	doc := with_context(with_policy({"approval_required": true}), {"approval": {
		"status": "approved",
		"participant": null, "dataset": null,
	}})
	codes(doc) == ["approval_missing"]
	no_subject := object.union(doc, {"subject": {"participant": null}})
	codes(no_subject) == ["approval_missing", "input_invalid"]
}

test_unknown_action_message_names_action if {
	d := connector.decision with input as object.union(base, {"action": "sell"})
	d.reasons[0].message == "the action 'sell' is not one of catalog, negotiate, transfer"
}

test_messages_fall_back_for_ill_typed_lists if {
	doc := with_policy({"purposes": ["research", 1], "org_types": ["research", 2], "regions": ["FR", 3]})
	d := connector.decision with input as with_context(doc, {"purpose": "planning"})
	d.reasons == [
		{"code": "org_type_not_allowed", "message": "the requester's organisation type is not allowed by this policy"},
		{"code": "purpose_not_allowed", "message": "the declared purpose is not allowed by this policy"},
		{"code": "region_not_allowed", "message": "the requester's region is not within the regions this policy allows"},
	]
	missing := connector.decision with input as with_context(doc, {"purpose": null})
	missing.reasons[1] == {"code": "purpose_missing", "message": "no purpose was declared, but this policy restricts the purpose"}
}

test_approval_message_without_dataset if {
	doc := object.union(with_policy({"approval_required": true}), {"resource": {"dataset": ""}})
	d := connector.decision with input as doc
	d.reasons[0] == {"code": "approval_missing", "message": "the data owner has not approved an access request for this dataset"}
}

test_recipient_message_without_participant if {
	doc := object.union(with_policy({"assignees": ["did:web:x"]}), {"subject": {"participant": 42}})
	d := connector.decision with input as doc
	d.reasons[1] == {"code": "recipient_not_allowed", "message": "the requester is not an allowed recipient of this policy"}
}
