//! Bearer tokens for Cloud Storage: a service-account key (JWT flow, tokens cached and
//! refreshed by yup-oauth2) or nothing at all for an emulator. Tokens are never logged.

use std::path::Path;
use std::sync::Arc;

use yup_oauth2::authenticator::DefaultAuthenticator;

use super::StorageError;

const SCOPE: &str = "https://www.googleapis.com/auth/devstorage.read_write";

#[derive(Clone)]
pub struct Auth(Option<Arc<DefaultAuthenticator>>);

impl Auth {
    pub fn anonymous() -> Self {
        Auth(None)
    }

    /// Reads the key and fetches a first token, so bad credentials stop start-up.
    pub async fn service_account(key_file: &Path) -> Result<Self, StorageError> {
        let key = yup_oauth2::read_service_account_key(key_file)
            .await
            .map_err(|e| {
                StorageError::Auth(format!(
                    "GOOGLE_APPLICATION_CREDENTIALS: {}: {e}",
                    key_file.display()
                ))
            })?;
        let auth = yup_oauth2::ServiceAccountAuthenticator::builder(key)
            .build()
            .await
            .map_err(|e| StorageError::Auth(format!("{}: {e}", key_file.display())))?;
        let auth = Auth(Some(Arc::new(auth)));
        auth.token().await?;
        Ok(auth)
    }

    /// The current access token, refreshed when close to expiry.
    pub async fn token(&self) -> Result<Option<String>, StorageError> {
        let Some(auth) = &self.0 else {
            return Ok(None);
        };
        let token = auth
            .token(&[SCOPE])
            .await
            .map_err(|e| StorageError::Auth(format!("token request failed: {e}")))?;
        token
            .token()
            .map(|t| Some(t.to_string()))
            .ok_or_else(|| StorageError::Auth("token endpoint returned no access token".into()))
    }
}
