//! Database credentials from AWS Secrets Manager: the
//! [`CredentialSource`] of the Lambda function (feature `secrets`).
//!
//! The secret is the JSON that RDS writes for a managed or rotated
//! database secret: `{"username": …, "password": …}`, usually with `host`,
//! `port`, `dbname` and `engine` beside them. Only `username` and `password`
//! are used; where to connect stays in `DATABASE_URL`, so that the host name
//! `sslmode=verify-full` checks is the one configured, not one a secret could
//! change.
//!
//! Each [`CredentialSource::fetch`] is one `GetSecretValue` call (of the
//! `AWSCURRENT` version); the store calls it when it first connects and once
//! more after an authentication failure, so rotation needs no redeploy. No
//! error message ever holds the secret's content: a JSON value of the wrong
//! type is reported by its field name only.

use aws_sdk_secretsmanager::error::DisplayErrorContext;

use crate::store::postgres::{
    CredentialSource, CredentialsError, CredentialsFuture, DbCredentials,
};

/// Reads database credentials from one Secrets Manager secret.
#[derive(Debug, Clone)]
pub struct SecretsManagerCredentials {
    client: aws_sdk_secretsmanager::Client,
    secret_id: String,
}

impl SecretsManagerCredentials {
    /// The source for `secret_id` (an ARN or a name), read through `client`.
    pub fn new(
        client: aws_sdk_secretsmanager::Client,
        secret_id: impl Into<String>,
    ) -> SecretsManagerCredentials {
        SecretsManagerCredentials {
            client,
            secret_id: secret_id.into(),
        }
    }
}

impl CredentialSource for SecretsManagerCredentials {
    fn fetch(&self) -> CredentialsFuture<'_> {
        Box::pin(async move {
            let answer = self
                .client
                .get_secret_value()
                .secret_id(&self.secret_id)
                .send()
                .await
                .map_err(|error| CredentialsError::Unavailable {
                    source_name: self.name(),
                    reason: DisplayErrorContext(&error).to_string(),
                })?;
            let text = answer
                .secret_string()
                .ok_or_else(|| CredentialsError::Malformed {
                    source_name: self.name(),
                    reason: "holds no SecretString (a binary secret?)".to_owned(),
                })?;
            parse_secret(text).map_err(|reason| CredentialsError::Malformed {
                source_name: self.name(),
                reason,
            })
        })
    }

    fn name(&self) -> String {
        format!("secret {}", self.secret_id)
    }
}

/// The credentials of an RDS secret's JSON; the reason it is not one, without
/// its content, otherwise.
pub fn parse_secret(text: &str) -> Result<DbCredentials, String> {
    let value: serde_json::Value = serde_json::from_str(text).map_err(|error| {
        format!(
            "is not JSON ({:?} error at line {} column {})",
            error.classify(),
            error.line(),
            error.column()
        )
    })?;
    let object = value
        .as_object()
        .ok_or("is not a JSON object with username and password")?;
    let field = |name: &str| match object.get(name) {
        Some(serde_json::Value::String(text)) if !text.is_empty() => Ok(text.clone()),
        Some(serde_json::Value::String(_)) => Err(format!("has an empty {name}")),
        Some(_) => Err(format!("has a {name} that is not a string")),
        None => Err(format!("has no {name}")),
    };
    Ok(DbCredentials {
        username: field("username")?,
        password: field("password")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_rds_secret_gives_its_username_and_password() {
        let secret = r#"{"engine":"postgres","host":"db.example","port":5432,
            "username":"lamlog","password":"p\"w d","dbname":"lamlog","dbInstanceIdentifier":"db"}"#;
        let credentials = parse_secret(secret).unwrap();
        assert_eq!(credentials.username, "lamlog");
        assert_eq!(credentials.password, "p\"w d");
    }

    #[test]
    fn a_malformed_secret_is_refused_without_showing_its_content() {
        for (secret, reason) in [
            (r#"{"username":"lamlog"}"#, "has no password"),
            (r#"{"password":"hunter2"}"#, "has no username"),
            (
                r#"{"username":"lamlog","password":4711}"#,
                "password that is not a string",
            ),
            (
                r#"{"username":"lamlog","password":""}"#,
                "has an empty password",
            ),
            (r#"["lamlog","hunter2"]"#, "is not a JSON object"),
            (
                r#"{"username":"lamlog","password":"hunter2""#,
                "is not JSON",
            ),
            ("postgres://lamlog:hunter2@db/lamlog", "is not JSON"),
        ] {
            let refused = parse_secret(secret).unwrap_err();
            assert!(refused.contains(reason), "{secret} → {refused}");
            assert!(
                !refused.contains("hunter2") && !refused.contains("4711"),
                "{refused}"
            );
        }
    }
}
