"""Privacy by design: cookieless visitor ids, consent, data-subject rights, retention, audit,
and encrypted secrets at rest.

The public face of the `greenhouse.privacy` package; each idea lives in a module of its own:
`visitor_ids` (daily salts), `anonymize` (networks, user-agent families, referrers, the client
address behind a proxy), `consent`, `subject_requests` (+ `references`, the schema-wide search
used by access and erasure), `retention`, `audit`, `secret_store`, and `manager`, which ties them
to one SQLite connection.
"""

from .anonymize import (
    AnonymousUserAgent,
    TrustedProxies,
    anonymize_ip_address,
    anonymize_user_agent,
    clean_path,
    clean_referrer,
    client_address,
    normalize_ip,
)
from .audit import AuditLog, PersonalDataInAudit
from .consent import (
    CONSENT_CATEGORIES,
    ConsentDecision,
    PrivacySignals,
    UnknownConsentCategory,
    signals_from_headers,
)
from .manager import PrivacyManager
from .references import count_references, scannable_tables
from .retention import RetentionPolicy, apply_retention, retention_policies
from .secret_store import SecretStore, fernet_from_key, lineage_name, read_stored_secret
from .subject_requests import (
    REQUEST_TYPES,
    DataSubjectRequest,
    TooManyRequests,
    UnknownRequestType,
    export_csv,
    one_month_after,
)
from .tables import PRIVACY_MIGRATIONS
from .visitor_ids import SaltStore, utc_day, visitor_id_from_salt

__all__ = [
    "CONSENT_CATEGORIES",
    "PRIVACY_MIGRATIONS",
    "REQUEST_TYPES",
    "AnonymousUserAgent",
    "AuditLog",
    "ConsentDecision",
    "DataSubjectRequest",
    "PersonalDataInAudit",
    "PrivacyManager",
    "PrivacySignals",
    "RetentionPolicy",
    "SaltStore",
    "SecretStore",
    "TooManyRequests",
    "TrustedProxies",
    "UnknownConsentCategory",
    "UnknownRequestType",
    "anonymize_ip_address",
    "anonymize_user_agent",
    "apply_retention",
    "clean_path",
    "clean_referrer",
    "client_address",
    "count_references",
    "export_csv",
    "fernet_from_key",
    "lineage_name",
    "normalize_ip",
    "one_month_after",
    "read_stored_secret",
    "retention_policies",
    "scannable_tables",
    "signals_from_headers",
    "utc_day",
    "visitor_id_from_salt",
]
