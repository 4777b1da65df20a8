//! OpenAI: liveness through `GET /models`, classified by `error.code`; and, with an admin
//! key (`sk-admin-…`), the Admin API: find which project key a leaked key is (matching its
//! `redacted_value` across every project, following pagination), delete it (or its service
//! account), and create a replacement — another key for the same service account when the
//! leaked key is a service account's, else a new service account in the same project (the
//! API cannot create a user's key).

use super::http::url_escape;
use super::{
    Credentials, ManualSteps, Provider, ProviderError, ProviderId, RemoteKey, Replacement,
    Response, Revocation, Verification,
};
pub use super::{KeyOwner, Project};
use crate::core::secret::Secret;
use chrono::{DateTime, Utc};
use serde_json::Value;

pub const DEFAULT_BASE: &str = "https://api.openai.com/v1";
pub const API_KEYS_PAGE: &str = "https://platform.openai.com/api-keys";
const NAME: &str = "OpenAI";
/// Page size for the Admin API lists (its maximum is 100).
const PAGE_LIMIT: usize = 100;
/// A guard against a server that keeps saying `has_more` forever.
const MAX_PAGES: usize = 1000;

super::http::api_provider!(OpenAi);

/// A project API key as the Admin API lists it (never the key itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectKey {
    pub id: String,
    pub name: String,
    pub redacted_value: String,
    pub created_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub owner: KeyOwner,
    pub project: Project,
}

impl From<ProjectKey> for RemoteKey {
    fn from(key: ProjectKey) -> Self {
        RemoteKey {
            provider: ProviderId::OpenAi,
            id: key.id,
            name: key.name,
            redacted: Some(key.redacted_value),
            project: Some(key.project),
            owner: key.owner,
            created: key.created_at,
            last_used: key.last_used_at,
        }
    }
}

impl ProjectKey {
    /// The project key a `RemoteKey` from `locate` stands for (it must name its project).
    fn from_remote(remote: &RemoteKey) -> Result<Self, ProviderError> {
        let project = remote.project.clone().ok_or_else(|| {
            ProviderError::Unsupported(format!(
                "the OpenAI key {} has no project; revoke it at {API_KEYS_PAGE}",
                remote.id
            ))
        })?;
        Ok(ProjectKey {
            id: remote.id.clone(),
            name: remote.name.clone(),
            redacted_value: remote.redacted.clone().unwrap_or_default(),
            created_at: remote.created,
            last_used_at: remote.last_used,
            owner: remote.owner.clone(),
            project,
        })
    }
}

/// What deleting a project key did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Deleted {
    Key {
        id: String,
    },
    /// The key belonged to a service account that had to be deleted instead.
    ServiceAccount {
        id: String,
    },
}

impl OpenAi {
    fn get(&self, key: &Secret, path: &str) -> Result<Response, ProviderError> {
        let url = self.api.url(path);
        self.api
            .http
            .send(key, |c| c.get(&url).bearer_auth(key.expose()))
    }

    /// Classifies an answer from an endpoint the key should be able to call.
    fn classify(response: &Response) -> Verification {
        if response.is_success() {
            return Verification::accepted(response);
        }
        let code = response.error_field("code");
        let message = response
            .json()
            .and_then(|j| {
                j.pointer("/error/message")
                    .and_then(Value::as_str)
                    .map(str::to_string)
            })
            .unwrap_or_default();
        match (response.status, code.as_deref()) {
            (401, Some("invalid_api_key")) => {
                Verification::dead("invalid_api_key: revoked or never valid")
            }
            (401 | 403, _)
                if message.contains("Missing scopes")
                    || message.contains("insufficient permissions") =>
            {
                Verification::restricted("restricted key: accepted, but missing scopes")
            }
            (429, Some("insufficient_quota")) => {
                Verification::live("accepted, but the organization has no credit left")
            }
            (401 | 403, _) if response.json().is_none() => Verification::unknown(format!(
                "unreadable answer (HTTP {}): not JSON",
                response.status
            )),
            _ => Verification::unexpected(response),
        }
    }

    // ---- Admin API -------------------------------------------------------------------

    /// Every page of a list endpoint: `?limit=…&after=<last_id>` while `has_more`.
    fn list_all(&self, admin: &Secret, path: &str) -> Result<Vec<Value>, ProviderError> {
        let mut items = Vec::new();
        let mut after: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let mut query = format!("{path}?limit={PAGE_LIMIT}");
            if let Some(cursor) = &after {
                query.push_str("&after=");
                query.push_str(&url_escape(cursor));
            }
            let response = self.get(admin, &query)?;
            if !response.is_success() {
                return Err(admin_error(&response));
            }
            let page: Value = serde_json::from_str(&response.body)
                .map_err(|e| ProviderError::malformed(NAME, format!("{path}: {e}")))?;
            let data = page
                .get("data")
                .and_then(Value::as_array)
                .ok_or_else(|| ProviderError::malformed(NAME, format!("{path}: no `data` list")))?;
            items.extend(data.iter().cloned());
            let has_more = page
                .get("has_more")
                .and_then(Value::as_bool)
                .unwrap_or(false);
            if !has_more {
                return Ok(items);
            }
            let last = opt_field(&page, "last_id")
                .or_else(|| {
                    data.last()
                        .and_then(|d| d.get("id"))
                        .and_then(Value::as_str)
                        .map(str::to_string)
                })
                .ok_or_else(|| {
                    ProviderError::malformed(NAME, format!("{path}: has_more without a last id"))
                })?;
            if after.as_deref() == Some(last.as_str()) {
                return Err(ProviderError::malformed(
                    NAME,
                    format!("{path}: pagination does not advance"),
                ));
            }
            after = Some(last);
        }
        Err(ProviderError::malformed(
            NAME,
            format!("{path}: too many pages"),
        ))
    }

    /// Every active project of the admin key's organization.
    pub fn list_projects(&self, admin: &Secret) -> Result<Vec<Project>, ProviderError> {
        self.list_all(admin, "/organization/projects")?
            .iter()
            .map(|p| {
                Ok(Project {
                    id: str_field(p, "id")?,
                    name: text_field(p, "name"),
                })
            })
            .collect()
    }

    /// Every API key of one project.
    pub fn list_project_keys(
        &self,
        admin: &Secret,
        project: &Project,
    ) -> Result<Vec<ProjectKey>, ProviderError> {
        let path = format!(
            "/organization/projects/{}/api_keys",
            url_escape(&project.id)
        );
        self.list_all(admin, &path)?
            .iter()
            .map(|k| parse_project_key(k, project))
            .collect()
    }

    /// The project keys whose `redacted_value` fits `key`, across all projects. Usually
    /// one; more than one means the redaction is not enough to tell them apart.
    pub fn find_key(&self, admin: &Secret, key: &Secret) -> Result<Vec<ProjectKey>, ProviderError> {
        let mut found = Vec::new();
        for project in self.list_projects(admin)? {
            for candidate in self.list_project_keys(admin, &project)? {
                if redacted_matches(&candidate.redacted_value, key.expose()) {
                    found.push(candidate);
                }
            }
        }
        Ok(found)
    }

    /// The one project key that is `key`, or a clear error.
    pub fn find_unique_key(
        &self,
        admin: &Secret,
        key: &Secret,
    ) -> Result<ProjectKey, ProviderError> {
        let mut found = self.find_key(admin, key)?;
        match found.len() {
            1 => Ok(found.remove(0)),
            0 => Err(ProviderError::NotFound(format!(
                "no project key of the admin key's organization matches {}; it may belong to \
                 another organization, be a user key outside any project, or already be deleted",
                key.redacted()
            ))),
            n => Err(ProviderError::NotFound(format!(
                "{n} project keys match {} ({}); revoke the right one at {API_KEYS_PAGE}",
                key.redacted(),
                found
                    .iter()
                    .map(|k| format!("{} in {}", k.name, k.project.name))
                    .collect::<Vec<_>>()
                    .join(", ")
            ))),
        }
    }

    /// Deletes a project key. A key owned by a service account that the key endpoint
    /// refuses to delete is removed by deleting its service account — unless the account
    /// has other keys, which that would delete too.
    pub fn delete_key(&self, admin: &Secret, key: &ProjectKey) -> Result<Deleted, ProviderError> {
        let url = self.api.url(&format!(
            "/organization/projects/{}/api_keys/{}",
            url_escape(&key.project.id),
            url_escape(&key.id)
        ));
        let response = self
            .api
            .http
            .send(admin, |c| c.delete(&url).bearer_auth(admin.expose()))?;
        if response.is_success() {
            check_deleted(&response)?;
            return Ok(Deleted::Key { id: key.id.clone() });
        }
        if let KeyOwner::ServiceAccount { id, .. } = &key.owner {
            if (400..500).contains(&response.status) && response.status != 401 {
                // Deleting the account deletes all of its keys: never one that lives on
                // (such as the replacement just made for the same account).
                let others: Vec<String> = self
                    .list_project_keys(admin, &key.project)?
                    .into_iter()
                    .filter(|k| k.id != key.id)
                    .filter(|k| matches!(&k.owner, KeyOwner::ServiceAccount { id: other, .. } if other == id))
                    .map(|k| k.name)
                    .collect();
                if !others.is_empty() {
                    return Err(ProviderError::Unsupported(format!(
                        "OpenAI refused to delete the service account's key {} ({}), and deleting the service account {id} would also delete its other keys ({}); revoke the key at {API_KEYS_PAGE}",
                        key.name,
                        response.summary(),
                        others.join(", ")
                    )));
                }
                self.delete_service_account(admin, &key.project, id)?;
                return Ok(Deleted::ServiceAccount { id: id.clone() });
            }
        }
        Err(admin_error(&response))
    }

    pub fn delete_service_account(
        &self,
        admin: &Secret,
        project: &Project,
        service_account_id: &str,
    ) -> Result<(), ProviderError> {
        let url = self.api.url(&format!(
            "/organization/projects/{}/service_accounts/{}",
            url_escape(&project.id),
            url_escape(service_account_id)
        ));
        let response = self
            .api
            .http
            .send(admin, |c| c.delete(&url).bearer_auth(admin.expose()))?;
        if !response.is_success() {
            return Err(admin_error(&response));
        }
        check_deleted(&response)
    }

    /// Creates a service account in `project`; its one-time key is the replacement.
    pub fn create_service_account(
        &self,
        admin: &Secret,
        project: &Project,
        name: &str,
    ) -> Result<Replacement, ProviderError> {
        let path = format!(
            "/organization/projects/{}/service_accounts",
            url_escape(&project.id)
        );
        let json = self.post_admin(admin, &path, name, "service account")?;
        let account_id = str_field(&json, "id")?;
        let value = json
            .pointer("/api_key/value")
            .and_then(Value::as_str)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| {
                ProviderError::malformed(NAME, "the new service account came without a key")
            })?;
        let key_id = json
            .pointer("/api_key/id")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let created = json
            .get("api_key")
            .and_then(|k| timestamp(k, "created_at"))
            .or_else(|| timestamp(&json, "created_at"));
        Ok(Replacement {
            created,
            key: Secret::new(value),
            id: if key_id.is_empty() {
                account_id.clone()
            } else {
                format!("{key_id} (service account {account_id})")
            },
            name: name.to_string(),
            detail: format!(
                "new service account {name} ({account_id}) in project {} ({})",
                project.name, project.id
            ),
        })
    }
}

impl OpenAi {
    /// `POST path` with `{"name": name}` to the Admin API; the answer as JSON (`what` names
    /// it in errors).
    fn post_admin(
        &self,
        admin: &Secret,
        path: &str,
        name: &str,
        what: &str,
    ) -> Result<Value, ProviderError> {
        let url = self.api.url(path);
        let body = serde_json::json!({ "name": name });
        let response = self.api.http.send(admin, |c| {
            c.post(&url).bearer_auth(admin.expose()).json(&body)
        })?;
        if !response.is_success() {
            return Err(admin_error(&response));
        }
        serde_json::from_str(&response.body)
            .map_err(|e| ProviderError::malformed(NAME, format!("{what}: {e}")))
    }

    /// Creates another key for an existing service account of `project`.
    pub fn create_service_account_key(
        &self,
        admin: &Secret,
        project: &Project,
        service_account: (&str, &str),
        name: &str,
    ) -> Result<Replacement, ProviderError> {
        let (account_id, account_name) = service_account;
        let path = format!(
            "/organization/projects/{}/service_accounts/{}/api_keys",
            url_escape(&project.id),
            url_escape(account_id)
        );
        let json = self.post_admin(admin, &path, name, "service account key")?;
        let value = json
            .get("value")
            .and_then(Value::as_str)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| ProviderError::malformed(NAME, "the new key came without its value"))?;
        let key_id = str_field(&json, "id")?;
        Ok(Replacement {
            key: Secret::new(value),
            id: format!("{key_id} (service account {account_id})"),
            name: name.to_string(),
            detail: format!(
                "new key {name} ({key_id}) for service account {account_name} ({account_id}) in project {} ({})",
                project.name, project.id
            ),
            created: timestamp(&json, "created_at"),
        })
    }
}

impl Provider for OpenAi {
    fn id(&self) -> super::ProviderId {
        super::ProviderId::OpenAi
    }

    fn default_env_var(&self) -> &'static str {
        "OPENAI_API_KEY"
    }

    fn verify(&self, key: &Secret) -> Verification {
        // An admin key cannot list models; it is checked against what it is for.
        let path = if key.expose().starts_with("sk-admin-") {
            "/organization/projects?limit=1"
        } else {
            "/models"
        };
        match self.get(key, path) {
            Ok(response) => Self::classify(&response),
            Err(err) => Verification::from_error(&err),
        }
    }

    fn manual_steps(&self, key: &Secret) -> ManualSteps {
        let redacted = key.redacted();
        ManualSteps {
            page: Some(API_KEYS_PAGE.to_string()),
            steps: vec![
                format!("Open {API_KEYS_PAGE} and sign in to the organization that owns the key."),
                "Pick the key's project in the project selector (top left); check each project if unsure.".to_string(),
                format!("Find the key whose shown value ends like {redacted} (the list shows the last characters)."),
                "Click its trash-can icon and confirm \"Revoke key\".".to_string(),
                "If it is a service account's key, delete the service account under Settings → Project → Service accounts instead.".to_string(),
                "Create a new key on the same page (\"Create new secret key\") and store it with `keywarden keys add NAME --provider openai`.".to_string(),
            ],
        }
    }

    fn locator(&self, creds: &Credentials) -> Option<&'static str> {
        creds
            .admin(ProviderId::OpenAi)
            .map(|_| "the OpenAI Admin API (every project)")
    }

    fn locate(
        &self,
        key: &Secret,
        creds: &Credentials,
    ) -> Result<Option<RemoteKey>, ProviderError> {
        let Some(admin) = creds.admin(ProviderId::OpenAi) else {
            return Ok(None);
        };
        Ok(Some(self.find_unique_key(admin, key)?.into()))
    }

    fn revoke(
        &self,
        key: &Secret,
        located: Option<&RemoteKey>,
        creds: &Credentials,
    ) -> Result<Revocation, ProviderError> {
        let (Some(admin), Some(located)) = (creds.admin(ProviderId::OpenAi), located) else {
            return Ok(Revocation::Manual(self.manual_steps(key)));
        };
        let found = ProjectKey::from_remote(located)?;
        let detail = match self.delete_key(admin, &found)? {
            Deleted::Key { id } => format!(
                "deleted key {id} (\"{}\") in project {}",
                found.name, found.project.name
            ),
            Deleted::ServiceAccount { id } => format!(
                "the key belongs to a service account, so its service account {id} was deleted, and with it key {} in project {}",
                found.name, found.project.name
            ),
        };
        Ok(Revocation::Revoked { detail })
    }

    fn usage(
        &self,
        old: &RemoteKey,
        creds: &Credentials,
        window: super::openai_usage::Window,
    ) -> Option<Result<super::openai_usage::Comparison, ProviderError>> {
        let admin = creds.admin(ProviderId::OpenAi)?;
        let get = |path: &str| self.get(admin, path);
        Some(super::openai_usage::compare(&get, &old.id, window))
    }

    fn can_create_replacement(&self, old: &RemoteKey, creds: &Credentials) -> bool {
        creds.admin(ProviderId::OpenAi).is_some() && old.project.is_some()
    }

    fn create_replacement(
        &self,
        old: &RemoteKey,
        name: &str,
        creds: &Credentials,
    ) -> Result<Replacement, ProviderError> {
        let Some(admin) = creds.admin(ProviderId::OpenAi) else {
            return Err(ProviderError::Unsupported(format!(
                "creating an OpenAI key needs an admin key (OPENAI_ADMIN_KEY); otherwise create \
                 one at {API_KEYS_PAGE}"
            )));
        };
        let found = ProjectKey::from_remote(old)?;
        match &found.owner {
            KeyOwner::ServiceAccount { id, name: account } => {
                self.create_service_account_key(admin, &found.project, (id, account), name)
            }
            _ => self.create_service_account(admin, &found.project, name),
        }
    }
}

/// An Admin API failure as an error; a rejected admin key says so plainly.
fn admin_error(response: &Response) -> ProviderError {
    if response.status == 401 || response.status == 403 {
        ProviderError::Status {
            provider: NAME,
            status: response.status,
            message: format!(
                "the admin key was refused ({}); it must be an `sk-admin-` key with the right permissions",
                response.summary()
            ),
        }
    } else {
        ProviderError::status(NAME, response)
    }
}

fn check_deleted(response: &Response) -> Result<(), ProviderError> {
    match response.json() {
        Some(json) if json.get("deleted").and_then(Value::as_bool) == Some(false) => Err(
            ProviderError::malformed(NAME, "the API answered `deleted: false`"),
        ),
        _ => Ok(()),
    }
}

fn str_field(value: &Value, field: &str) -> Result<String, ProviderError> {
    opt_field(value, field)
        .ok_or_else(|| ProviderError::malformed(NAME, format!("missing `{field}`")))
}

fn opt_field(value: &Value, field: &str) -> Option<String> {
    value.get(field).and_then(Value::as_str).map(str::to_string)
}

/// A string field that may be missing (then empty): names shown to a person.
fn text_field(value: &Value, field: &str) -> String {
    opt_field(value, field).unwrap_or_default()
}

fn timestamp(value: &Value, field: &str) -> Option<DateTime<Utc>> {
    value
        .get(field)
        .and_then(Value::as_i64)
        .and_then(|secs| DateTime::from_timestamp(secs, 0))
}

fn parse_project_key(k: &Value, project: &Project) -> Result<ProjectKey, ProviderError> {
    let owner = match k.pointer("/owner/type").and_then(Value::as_str) {
        Some("user") => {
            let user = k.pointer("/owner/user").cloned().unwrap_or(Value::Null);
            KeyOwner::User {
                id: text_field(&user, "id"),
                name: text_field(&user, "name"),
                email: opt_field(&user, "email"),
            }
        }
        Some("service_account") => {
            let account = k
                .pointer("/owner/service_account")
                .cloned()
                .unwrap_or(Value::Null);
            KeyOwner::ServiceAccount {
                id: str_field(&account, "id")?,
                name: text_field(&account, "name"),
            }
        }
        _ => KeyOwner::Unknown,
    };
    Ok(ProjectKey {
        id: str_field(k, "id")?,
        name: text_field(k, "name"),
        redacted_value: str_field(k, "redacted_value")?,
        created_at: timestamp(k, "created_at"),
        last_used_at: timestamp(k, "last_used_at"),
        owner,
        project: project.clone(),
    })
}

/// Whether a `redacted_value` such as `sk-abc...wxyz` (or with `…` or `****`) can be
/// `key`: the shown head and tail must both fit and together be informative.
pub fn redacted_matches(redacted: &str, key: &str) -> bool {
    let Some((head, tail)) = split_redacted(redacted) else {
        return false;
    };
    // A bare prefix such as "sk-" says nothing; demand part of the tail too.
    tail.len() >= 2
        && head.len() + tail.len() < key.len()
        && key.starts_with(head)
        && key.ends_with(tail)
}

fn split_redacted(redacted: &str) -> Option<(&str, &str)> {
    for sep in ["...", "…"] {
        if let Some((head, tail)) = redacted.split_once(sep) {
            return Some((head.trim_end_matches('*'), tail.trim_start_matches('*')));
        }
    }
    let start = redacted.find('*')?;
    let end = redacted.rfind('*')?;
    Some((&redacted[..start], &redacted[end + 1..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacted_values_match_their_key_only() {
        let key = format!("sk-proj-abcDEF{}wxyz", "0".repeat(100));
        assert!(redacted_matches("sk-proj-abc...wxyz", &key));
        assert!(redacted_matches("sk-proj-abc…wxyz", &key));
        assert!(redacted_matches("sk-proj-****wxyz", &key));
        assert!(!redacted_matches("sk-proj-abc...wxyq", &key));
        assert!(!redacted_matches("sk-proj-abd...wxyz", &key));
        assert!(!redacted_matches("sk-...", &key));
        assert!(!redacted_matches("no separator", &key));
    }

    #[test]
    fn classification_goes_by_error_code() {
        let r = |status, body: &str| Response::new(status, body, None);
        let dead = OpenAi::classify(&r(
            401,
            r#"{"error":{"message":"Incorrect API key provided","code":"invalid_api_key"}}"#,
        ));
        assert_eq!(dead.liveness, crate::core::secret::Liveness::Dead);
        let restricted = OpenAi::classify(&r(
            401,
            r#"{"error":{"message":"You have insufficient permissions for this operation. Missing scopes: model.read.","code":null}}"#,
        ));
        assert_eq!(restricted.liveness, crate::core::secret::Liveness::Live);
        assert!(restricted.restricted);
        let garbled = OpenAi::classify(&r(401, "<html>"));
        assert_eq!(garbled.liveness, crate::core::secret::Liveness::Unknown);
        let other401 = OpenAi::classify(&r(401, r#"{"error":{"code":"something_else"}}"#));
        assert_eq!(other401.liveness, crate::core::secret::Liveness::Unknown);
    }

    #[test]
    fn ids_are_escaped() {
        assert_eq!(url_escape("proj_abc-1"), "proj_abc-1");
        assert_eq!(url_escape("a/b c"), "a%2Fb%20c");
    }
}
