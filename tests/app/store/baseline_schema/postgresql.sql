-- The schema at migration 0001 (2026-11-26), frozen: tests/app/store/test_migrations.py builds an
-- old database from it and checks that upgrading it gives exactly the current metadata.
CREATE TABLE api_keys (
	key_id VARCHAR(16) NOT NULL, 
	key_hash VARCHAR(64) NOT NULL, 
	name VARCHAR(120) NOT NULL, 
	rate_per_minute INTEGER, 
	created_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	revoked_at TIMESTAMP WITH TIME ZONE, 
	PRIMARY KEY (key_id), 
	UNIQUE (key_hash)
);

CREATE TABLE audit_log (
	entry_id VARCHAR(36) NOT NULL, 
	occurred_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	actor VARCHAR(120) NOT NULL, 
	action VARCHAR(40) NOT NULL, 
	subject VARCHAR(120) NOT NULL, 
	origin VARCHAR(10) NOT NULL, 
	address VARCHAR(64), 
	detail TEXT NOT NULL, 
	PRIMARY KEY (entry_id)
);

CREATE INDEX ix_audit_log_time ON audit_log (occurred_at);

CREATE TABLE public_approved (
	report_id VARCHAR(36) NOT NULL, 
	approved_by VARCHAR(120) NOT NULL, 
	approved_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	public_text TEXT, 
	PRIMARY KEY (report_id)
);

CREATE TABLE report_actions (
	action_id VARCHAR(80) NOT NULL, 
	report_id VARCHAR(36) NOT NULL, 
	event_id VARCHAR(80), 
	action VARCHAR(20) NOT NULL, 
	actor VARCHAR(120) NOT NULL, 
	version INTEGER NOT NULL, 
	detail TEXT NOT NULL, 
	occurred_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	PRIMARY KEY (action_id)
);

CREATE INDEX ix_actions_report ON report_actions (report_id, occurred_at);

CREATE TABLE report_events (
	event_id VARCHAR(80) NOT NULL, 
	report_id VARCHAR(36) NOT NULL, 
	city VARCHAR(20) NOT NULL, 
	kind VARCHAR(20) NOT NULL, 
	from_status VARCHAR(20), 
	to_status VARCHAR(20) NOT NULL, 
	version INTEGER NOT NULL, 
	actor VARCHAR(120) NOT NULL, 
	note TEXT, 
	occurred_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	published BOOLEAN NOT NULL, 
	PRIMARY KEY (event_id)
);

CREATE INDEX ix_events_report ON report_events (report_id, version);

CREATE INDEX ix_events_unpublished ON report_events (published, occurred_at);

CREATE TABLE report_feedback (
	id SERIAL NOT NULL, 
	report_id VARCHAR(36) NOT NULL, 
	ticket VARCHAR(24) NOT NULL, 
	kind VARCHAR(10) NOT NULL, 
	rating INTEGER, 
	comment TEXT, 
	version INTEGER NOT NULL, 
	occurred_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	PRIMARY KEY (id)
);

CREATE INDEX ix_feedback_report ON report_feedback (report_id);

CREATE TABLE report_links (
	report_id VARCHAR(36) NOT NULL, 
	linked_id VARCHAR(36) NOT NULL, 
	kind VARCHAR(20) NOT NULL, 
	created_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	PRIMARY KEY (report_id, linked_id)
);

CREATE INDEX ix_report_links_linked ON report_links (linked_id);

CREATE TABLE report_supporters (
	report_id VARCHAR(36) NOT NULL, 
	supporter VARCHAR(64) NOT NULL, 
	created_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	PRIMARY KEY (report_id, supporter)
);

CREATE TABLE reports (
	id VARCHAR(36) NOT NULL, 
	ticket VARCHAR(24) NOT NULL, 
	city VARCHAR(20) NOT NULL, 
	category VARCHAR(40) NOT NULL, 
	description TEXT NOT NULL, 
	lat FLOAT NOT NULL, 
	lng FLOAT NOT NULL, 
	h3_cell VARCHAR(16) NOT NULL, 
	kelurahan_code VARCHAR(40), 
	kelurahan_name VARCHAR(120), 
	kecamatan_code VARCHAR(40), 
	kecamatan_name VARCHAR(120), 
	address VARCHAR(300), 
	source VARCHAR(20) NOT NULL, 
	source_ref VARCHAR(120), 
	reporter_name VARCHAR(100), 
	reporter_phone VARCHAR(30), 
	reporter_email VARCHAR(254), 
	photos TEXT NOT NULL, 
	attributes TEXT NOT NULL, 
	status VARCHAR(20) NOT NULL, 
	agency VARCHAR(40), 
	team VARCHAR(80), 
	priority VARCHAR(10) NOT NULL, 
	created_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	updated_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	sla_due_at TIMESTAMP WITH TIME ZONE, 
	resolved_at TIMESTAMP WITH TIME ZONE, 
	version INTEGER NOT NULL, 
	PRIMARY KEY (id), 
	UNIQUE (ticket)
);

CREATE INDEX ix_reports_city_agency_status ON reports (city, agency, status);

CREATE INDEX ix_reports_city_created ON reports (city, created_at);

CREATE INDEX ix_reports_city_kecamatan_created ON reports (city, kecamatan_code, created_at);

CREATE INDEX ix_reports_city_kelurahan_created ON reports (city, kelurahan_code, created_at);

CREATE INDEX ix_reports_city_resolved ON reports (city, resolved_at);

CREATE INDEX ix_reports_city_status_created ON reports (city, status, created_at);

CREATE INDEX ix_reports_city_status_due ON reports (city, status, sla_due_at);

CREATE INDEX ix_reports_h3 ON reports (h3_cell);

CREATE INDEX ix_reports_open_category_created ON reports (city, category, created_at) WHERE status IN ('new', 'verified', 'dispatched', 'in_progress', 'reopened');

CREATE INDEX ix_reports_open_due ON reports (city, sla_due_at) WHERE status IN ('new', 'verified', 'dispatched', 'in_progress', 'reopened');

CREATE TABLE staff_disabled (
	username VARCHAR(40) NOT NULL, 
	disabled_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	disabled_by VARCHAR(120) NOT NULL, 
	PRIMARY KEY (username)
);

CREATE TABLE staff_users (
	username VARCHAR(40) NOT NULL, 
	password_hash VARCHAR(200) NOT NULL, 
	role VARCHAR(20) NOT NULL, 
	agency VARCHAR(40), 
	city VARCHAR(20) NOT NULL, 
	failed_logins INTEGER NOT NULL, 
	locked_until TIMESTAMP WITH TIME ZONE, 
	created_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	last_login_at TIMESTAMP WITH TIME ZONE, 
	PRIMARY KEY (username)
);
