//! The credential report's read: the org's API-key principals (base table, oldest first) and, for
//! each, its credentials (GSI1), so nothing outside the org's own partitions is ever read.

use super::*;

/// The most principals whose credentials one page queries (a bound on a page's round trips when
/// principals hold no credentials any more).
const PRINCIPALS_PER_PAGE: usize = 100;
/// The most pages of principals one report page reads (see `credential_report`).
const PRINCIPAL_PAGES_PER_PAGE: usize = 5;

/// Where a page key keeps the credential position (the GSI1 start key) beside the principal's.
const CREDENTIAL_KEY: &str = "credential.";

impl DynamoStore {
    /// A page of the org's credentials with their principals: principals oldest first, then each
    /// one's credentials in GSI1 order (by stored status, then oldest first). The page key holds
    /// the last principal finished and, when a page ends inside a principal's credentials, where
    /// they go on. Principals that never held a credential (`credentialsVersion` 0) cost no query.
    pub async fn credential_report(
        &self,
        org: &OrgId,
        limit: usize,
        start: Option<PageKey>,
    ) -> Result<Page<(Principal, CredentialRecord)>, StoreError> {
        let (pk, prefix) = keys::api_key_principals(org);
        let principals = QuerySpec::base(pk, prefix);
        let (mut finished, mut credential_start) = split(start);
        let mut rows = Vec::new();
        let mut queried = 0;
        let mut principal_pages = 0;
        loop {
            let page = self.query(&principals, limit.max(10), finished.clone(), true).await?;
            let count = page.items.len();
            for (position, item) in page.items.into_iter().enumerate() {
                let key = key_of_item(&item, &[keys::PK, keys::SK]);
                let record = Self::principal_from(item)?;
                if record.credentials_version == 0 && record.active_key_ids.is_empty() {
                    finished = Some(key);
                    continue;
                }
                let principal = record.principal;
                let partition = keys::credentials_of_pk(org, &principal.id);
                let resume = credential_start.take().filter(|k| k.get(keys::GSI1PK) == Some(&partition));
                let credentials = QuerySpec {
                    index: Some(keys::GSI1),
                    pk_name: keys::GSI1PK,
                    pk: partition,
                    sk_name: keys::GSI1SK,
                    sk_prefix: String::new(),
                    newest_first: false,
                    sk_upto: None,
                    sk_after: None,
                };
                let found = self.query(&credentials, limit - rows.len(), resume, false).await?;
                queried += 1;
                for item in found.items {
                    rows.push((principal.clone(), Self::credential_from(item)?));
                }
                if let Some(inside) = found.next {
                    return Ok(Page { items: rows, next: Some(join(finished, Some(inside))) });
                }
                finished = Some(key);
                if rows.len() >= limit || queried >= PRINCIPALS_PER_PAGE {
                    let more = position + 1 < count || page.next.is_some();
                    return Ok(Page { items: rows, next: more.then(|| join(finished, None)) });
                }
            }
            if page.next.is_none() {
                return Ok(Page { items: rows, next: None });
            }
            // Principals that never held a credential cost no credential query, but reading past
            // them costs pages: a report page reads at most this many, then hands back a cursor
            // (a page may then hold fewer rows than `limit`, even none, with `nextCursor` set).
            principal_pages += 1;
            if principal_pages >= PRINCIPAL_PAGES_PER_PAGE {
                return Ok(Page { items: rows, next: Some(join(finished, None)) });
            }
        }
    }
}

/// The key attributes `names` of an item.
fn key_of_item(item: &Item, names: &[&str]) -> PageKey {
    names
        .iter()
        .filter_map(|name| match item.get(*name) {
            Some(AttributeValue::S(v)) => Some((name.to_string(), v.clone())),
            _ => None,
        })
        .collect()
}

/// A report page key: the last principal finished (none: start at the first) and, under
/// `credential.`, the credential to go on after.
fn join(finished: Option<PageKey>, credential: Option<PageKey>) -> PageKey {
    let mut key = finished.unwrap_or_default();
    for (name, value) in credential.into_iter().flatten() {
        key.insert(format!("{CREDENTIAL_KEY}{name}"), value);
    }
    key
}

/// The two halves of a report page key (see [`join`]).
fn split(start: Option<PageKey>) -> (Option<PageKey>, Option<PageKey>) {
    let Some(start) = start else { return (None, None) };
    let (credential, principal): (PageKey, PageKey) =
        start.into_iter().partition(|(k, _)| k.starts_with(CREDENTIAL_KEY));
    let credential: PageKey = credential.into_iter().map(|(k, v)| (k[CREDENTIAL_KEY.len()..].to_string(), v)).collect();
    ((!principal.is_empty()).then_some(principal), (!credential.is_empty()).then_some(credential))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_report_page_key_splits_into_what_it_joined() {
        let principal = PageKey::from([("PK".into(), "ORG#o".into()), ("SK".into(), "PRINCIPAL#akp_1".into())]);
        let credential = PageKey::from([
            ("PK".into(), "CRED#k".into()),
            ("SK".into(), "CRED".into()),
            ("GSI1PK".into(), "ORG#o#AKP#akp_2#CREDS".into()),
            ("GSI1SK".into(), "Active#t#k".into()),
        ]);
        let both = join(Some(principal.clone()), Some(credential.clone()));
        assert_eq!(split(Some(both)), (Some(principal.clone()), Some(credential.clone())));
        assert_eq!(split(Some(join(None, Some(credential.clone())))), (None, Some(credential)));
        assert_eq!(split(Some(join(Some(principal.clone()), None))), (Some(principal), None));
        assert_eq!(split(None), (None, None));
    }
}
