// SPDX-License-Identifier: GPL-2.0-only
//! Who signs and sends a series: "Name <address>", parsed and checked.

use anyhow::{bail, Context, Result};
use serde::Deserialize;
use std::fmt;

/// Who signs the series.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Identity {
    pub name: String,
    pub email: String,
}

impl fmt::Display for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} <{}>", self.name, self.email)
    }
}

impl Identity {
    /// Parses `Name <address>`.
    pub fn parse(text: &str) -> Result<Self> {
        let text = text.trim();
        let (name, rest) = text
            .split_once('<')
            .with_context(|| format!("'{text}' is not of the form 'Name <address>'"))?;
        let email = rest
            .strip_suffix('>')
            .with_context(|| format!("'{text}' is not of the form 'Name <address>'"))?;
        let id = Identity {
            name: name.trim().to_string(),
            email: email.trim().to_string(),
        };
        id.validate()?;
        Ok(id)
    }

    pub fn validate(&self) -> Result<()> {
        let ok = self.email.split_once('@').is_some_and(|(user, domain)| {
            !user.is_empty() && !domain.is_empty() && !domain.contains('@')
        });
        if !ok || self.name.trim().is_empty() || self.email.contains(char::is_whitespace) {
            bail!("an identity needs a name and an email address, not '{self}'");
        }
        Ok(())
    }
}
