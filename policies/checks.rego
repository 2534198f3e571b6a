# The individual checks of data.connector.decision and the message of every reason code.
# A list constraint of the policy is null when it does not restrict; anything else that is not
# a list of the requester's value fails (fail closed on malformed input).
package connector

recipient_ok if assignees == null

recipient_ok if listed(participant, assignees)

org_type_ok if org_types == null

org_type_ok if listed(org_type, org_types)

region_ok if regions == null

# region_path holds the requester's region and every region it lies in.
region_ok if {
	some region in region_path
	listed(region, regions)
}

purpose_ok if purposes == null

purpose_ok if listed(purpose, purposes)

within_window if {
	after_start
	before_end
}

after_start if not_before == null

after_start if {
	is_number(now)
	is_number(not_before)
	now >= not_before
}

before_end if not_after == null

before_end if {
	is_number(now)
	is_number(not_after)
	now <= not_after
}

# usage_count counts the transfers already made; this one would be number usage_count + 1.
count_ok if max_count == null

count_ok if {
	is_number(max_count)
	is_number(usage_count)
	usage_count < max_count
}

# Personal data always needs consent; a missing flag counts as personal.
consent_needed if object.get(policy, "consent_required", false) != false

consent_needed if object.get(resource, "personal_data", true) != false

consent_given if {
	some record in consents
	consent_covers(record)
}

consent_covers(record) if {
	is_object(record)
	non_empty_string(data_subject)
	non_empty_string(participant)
	non_empty_string(purpose)
	object.get(record, "subject", null) == data_subject
	object.get(record, "recipient", null) == participant
	object.get(record, "purpose", null) == purpose
	consent_dataset(object.get(record, "dataset", null))
	started(object.get(record, "granted_at", null))
	not_ended(object.get(record, "expires_at", null))
	not_ended(object.get(record, "withdrawn_at", null))
}

# A consent without a dataset covers every dataset of its subject.
consent_dataset(d) if d == null

consent_dataset(d) if {
	non_empty_string(d)
	d == dataset
}

started(t) if t == null

started(t) if {
	is_number(t)
	is_number(now)
	t <= now
}

not_ended(t) if t == null

not_ended(t) if {
	is_number(t)
	is_number(now)
	now < t
}

approval_needed if object.get(policy, "approval_required", false) != false

approved if {
	object.get(approval, "status", null) == "approved"
	non_empty_string(participant)
	non_empty_string(dataset)
	object.get(approval, "participant", null) == participant
	object.get(approval, "dataset", null) == dataset
}

duties_ok if {
	is_array(duties_doc)
	every duty in duties_doc {
		is_object(duty)
		duty_supported(duty)
	}
}

duty_supported(duty) if object.get(duty, "type", null) == "notify_owner"

duty_supported(duty) if {
	object.get(duty, "type", null) == "delete_after"
	is_number(object.get(duty, "days", null))
}

duty_supported(duty) if {
	object.get(duty, "type", null) == "aggregate_only"
	is_number(object.get(duty, "k", null))
}

# --- messages: a fixed text per code, more specific where the input allows ------------------

messages := {
	"unknown_action": unknown_action_message,
	"input_invalid": input_invalid_message,
	"recipient_not_allowed": recipient_message,
	"org_type_not_allowed": org_type_message,
	"region_not_allowed": region_message,
	"purpose_missing": purpose_missing_message,
	"purpose_not_allowed": purpose_message,
	"outside_window": window_message,
	"count_exceeded": count_message,
	"consent_missing": consent_message,
	"approval_missing": approval_message,
	"obligation_unsupported": "the policy carries a duty this connector cannot enforce",
}

default unknown_action_message := "the action is not one of catalog, negotiate, transfer"

unknown_action_message := concat("", ["the action '", action, "' is not one of catalog, negotiate, transfer"]) if {
	action != ""
}

input_invalid_message := concat("", ["the decision input lacks ", concat(", ", sort(missing_fields))])

default recipient_message := "the requester is not an allowed recipient of this policy"

recipient_message := concat("", ["participant ", participant, " is not an allowed recipient of this policy"]) if {
	non_empty_string(participant)
}

default org_type_message := "the requester's organisation type is not allowed by this policy"

org_type_message := concat("", ["organisation type ", org_type, " is not allowed (allowed: ", concat(", ", org_types), ")"]) if {
	non_empty_string(org_type)
	strings(org_types)
}

default region_message := "the requester's region is not within the regions this policy allows"

region_message := concat("", ["region ", object.get(subject, "region", ""), " is not within the allowed regions (", concat(", ", regions), ")"]) if {
	non_empty_string(object.get(subject, "region", null))
	strings(regions)
}

default purpose_missing_message := "no purpose was declared, but this policy restricts the purpose"

purpose_missing_message := concat("", ["no purpose was declared; this policy allows: ", concat(", ", purposes)]) if {
	strings(purposes)
}

default purpose_message := "the declared purpose is not allowed by this policy"

purpose_message := concat("", ["purpose ", purpose, " is not allowed (allowed: ", concat(", ", purposes), ")"]) if {
	strings(purposes)
}

default window_message := "the current time is outside the policy's usage window"

window_message := concat("", ["the usage window opens at ", format_int(not_before, 10), " (epoch seconds); it is now ", format_int(now, 10)]) if {
	not after_start
	is_number(now)
	is_number(not_before)
} else := concat("", ["the usage window closed at ", format_int(not_after, 10), " (epoch seconds); it is now ", format_int(now, 10)]) if {
	not before_end
	is_number(now)
	is_number(not_after)
}

default count_message := "the agreement's transfer limit is reached"

count_message := concat("", ["the agreement allows ", format_int(max_count, 10), " transfers and ", format_int(usage_count, 10), " have been made"]) if {
	is_number(max_count)
	is_number(usage_count)
}

default consent_message := "no valid consent covers this data subject, recipient and purpose"

consent_message := concat("", ["no valid consent of the data subject covers recipient ", participant, " and purpose ", purpose]) if {
	non_empty_string(participant)
	non_empty_string(purpose)
}

default approval_message := "the data owner has not approved an access request for this dataset"

approval_message := concat("", ["the data owner has not approved an access request of ", participant, " for dataset ", dataset]) if {
	non_empty_string(participant)
	non_empty_string(dataset)
}
