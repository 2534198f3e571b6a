# The individual checks of data.connector.decision (full_decision) and the message of every
# reason code. A list constraint of the policy is null when it does not restrict; anything else
# that is not a list of the requester's value fails (fail closed on malformed input). Each check
# is true or undefined, so the failures may ask `not check`.
package connector

complete if {
	is_object(object.get(input, "policy", null))
	non_empty_string(participant)
	non_empty_string(dataset)
	is_number(now)
}

recipient_ok if assignees == null

else if {
	is_array(assignees)
	participant in assignees
}

org_type_ok if org_types == null

else if {
	is_array(org_types)
	org_type in org_types
}

# region_path holds the requester's region and every region it lies in.
region_ok if regions == null

else if {
	is_array(regions)
	is_array(region_path)
	some region in region_path
	region in regions
}

# Without a declared purpose, a policy that restricts the purpose fails with purpose_missing.
purpose_ok if purposes == null

else if {
	is_string(purpose)
	is_array(purposes)
	purpose in purposes
}

within_window if {
	after_start
	before_end
}

after_start if not_before == null

else if {
	is_number(now)
	is_number(not_before)
	now >= not_before
}

before_end if not_after == null

else if {
	is_number(now)
	is_number(not_after)
	now <= not_after
}

# usage_count counts the transfers already made; this one would be number usage_count + 1.
count_ok if max_count == null

else if {
	is_number(max_count)
	is_number(usage_count)
	usage_count < max_count
}

# Personal data always needs consent; a missing flag counts as personal.
consent_ok if {
	object.get(input, ["policy", "consent_required"], false) == false
	object.get(input, ["resource", "personal_data"], true) == false
} else if {
	non_empty_string(data_subject)
	non_empty_string(participant)
	non_empty_string(purpose)
	is_array(consents)
	some record in consents
	consent_covers(record)
}

# A record field that is absent never equals the non-empty strings it is compared with.
consent_covers(record) if {
	record.subject == data_subject
	record.recipient == participant
	record.purpose == purpose
	consent_dataset(object.get(record, "dataset", null))
	started(object.get(record, "granted_at", null))
	not_ended(object.get(record, "expires_at", null))
	not_ended(object.get(record, "withdrawn_at", null))
}

# A consent without a dataset covers every dataset of its subject.
consent_dataset(d) if d == null

else if {
	non_empty_string(d)
	d == dataset
}

started(t) if t == null

else if {
	is_number(t)
	is_number(now)
	t <= now
}

not_ended(t) if t == null

else if {
	is_number(t)
	is_number(now)
	now < t
}

approval_ok if object.get(input, ["policy", "approval_required"], false) == false

else if {
	non_empty_string(participant)
	non_empty_string(dataset)
	input.context.approval.status == "approved"
	input.context.approval.participant == participant
	input.context.approval.dataset == dataset
}

duties_ok if {
	is_array(duties)
	every duty in duties {
		duty_supported(duty)
	}
}

duty_supported(duty) if duty.type == "notify_owner"

else if {
	duty.type == "delete_after"
	is_number(duty.days)
} else if {
	duty.type == "aggregate_only"
	is_number(duty.k)
}

# --- messages: a fixed text per code, more specific where the input allows ------------------

unknown_action_message := concat("", ["the action '", action, "' is not one of catalog, negotiate, transfer"]) if {
	action != ""
} else := "the action is not one of catalog, negotiate, transfer"

input_invalid_message := concat("", ["the decision input lacks ", concat(", ", sort(missing_fields))])

recipient_message := concat("", ["participant ", participant, " is not an allowed recipient of this policy"]) if {
	non_empty_string(participant)
} else := "the requester is not an allowed recipient of this policy"

org_type_message := concat("", ["organisation type ", org_type, " is not allowed (allowed: ", concat(", ", org_types), ")"]) if {
	non_empty_string(org_type)
	strings(org_types)
} else := "the requester's organisation type is not allowed by this policy"

region_message := concat("", ["region ", region, " is not within the allowed regions (", concat(", ", regions), ")"]) if {
	region := object.get(input, ["subject", "region"], null)
	non_empty_string(region)
	strings(regions)
} else := "the requester's region is not within the regions this policy allows"

purpose_missing_message := concat("", ["no purpose was declared; this policy allows: ", concat(", ", purposes)]) if {
	strings(purposes)
} else := "no purpose was declared, but this policy restricts the purpose"

purpose_message := concat("", ["purpose ", purpose, " is not allowed (allowed: ", concat(", ", purposes), ")"]) if {
	strings(purposes)
} else := "the declared purpose is not allowed by this policy"

window_message := concat("", ["the usage window opens at ", format_int(not_before, 10), " (epoch seconds); it is now ", format_int(now, 10)]) if {
	not after_start
	is_number(now)
	is_number(not_before)
} else := concat("", ["the usage window closed at ", format_int(not_after, 10), " (epoch seconds); it is now ", format_int(now, 10)]) if {
	not before_end
	is_number(now)
	is_number(not_after)
} else := "the current time is outside the policy's usage window"

count_message := concat("", ["the agreement allows ", format_int(max_count, 10), " transfers and ", format_int(usage_count, 10), " have been made"]) if {
	is_number(max_count)
	is_number(usage_count)
} else := "the agreement's transfer limit is reached"

consent_message := concat("", ["no valid consent of the data subject covers recipient ", participant, " and purpose ", purpose]) if {
	non_empty_string(participant)
	non_empty_string(purpose)
} else := "no valid consent covers this data subject, recipient and purpose"

approval_message := concat("", ["the data owner has not approved an access request of ", participant, " for dataset ", dataset]) if {
	non_empty_string(participant)
	non_empty_string(dataset)
} else := "the data owner has not approved an access request for this dataset"
