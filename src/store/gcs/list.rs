//! The listing half of the Cloud Storage store: names and generations page by page (within a
//! key range: `startOffset`/`endOffset`), the next level of prefixes (`delimiter=/`), then the
//! bodies fetched concurrently, with the ones that cannot be read reported, not fatal.

use futures_util::StreamExt;

use super::listing::{self, Listing};
use super::*;

impl GcsStore {
    /// One page of names: up to `limit` after `start_after`, and the key the next page starts
    /// after (`None` on the last page). One more name than needed is asked for, to know
    /// whether more follow.
    pub(super) async fn list_page(
        &self,
        prefix: &str,
        start_after: Option<&str>,
        limit: usize,
    ) -> Result<(Vec<Listed>, Option<String>), StoreError> {
        let mut names = self
            .list_names(prefix, start_after, None, limit.saturating_add(1))
            .await?;
        let more = names.len() > limit;
        names.truncate(limit);
        let next = more.then(|| names.last().map(|n| n.0.clone())).flatten();
        Ok((names, next))
    }

    /// Names and generations under `prefix` after `start_after` (and before `end_before`):
    /// up to `want`, fewer only at the end of the listing (Cloud Storage pages by
    /// `nextPageToken`, up to 1,000 objects a page).
    pub(super) async fn list_names(
        &self,
        prefix: &str,
        start_after: Option<&str>,
        end_before: Option<&str>,
        want: usize,
    ) -> Result<Vec<Listed>, StoreError> {
        let mut names: Vec<Listed> = Vec::new();
        let mut page_token: Option<String> = None;
        loop {
            let mut query = vec![
                ("prefix", prefix.to_string()),
                (
                    "maxResults",
                    want.saturating_sub(names.len()).min(1000).to_string(),
                ),
                (
                    "fields",
                    "items(name,generation,metadata,size),nextPageToken".to_string(),
                ),
            ];
            if let Some(after) = start_after {
                // startOffset is inclusive; the smallest name after `after` is `after` + NUL.
                query.push(("startOffset", format!("{after}\u{0}")));
            }
            if let Some(end) = end_before {
                query.push(("endOffset", end.to_string()));
            }
            if let Some(t) = &page_token {
                query.push(("pageToken", t.clone()));
            }
            let list = self.list_request(prefix, &query).await?;
            names.extend(
                list.names
                    .into_iter()
                    .filter(|(name, _, _)| start_after.is_none_or(|a| name.as_str() > a)),
            );
            page_token = list.next_page_token.filter(|t| !t.is_empty());
            if names.len() >= want || page_token.is_none() {
                return Ok(names);
            }
        }
    }

    /// The prefixes one level below `prefix` (`pods/` → `pods/<namespace>/`) at or after
    /// `from`, in order (`delimiter=/`); `None` when objects sit directly under `prefix`, so
    /// the prefixes alone would not cover it.
    pub(super) async fn delimited_prefixes(
        &self,
        prefix: &str,
        from: Option<&str>,
    ) -> Result<Option<Vec<String>>, StoreError> {
        let mut prefixes = Vec::new();
        let mut page_token: Option<String> = None;
        loop {
            let mut query = vec![
                ("prefix", prefix.to_string()),
                ("delimiter", "/".to_string()),
                ("maxResults", "1000".to_string()),
                ("fields", "items(name),prefixes,nextPageToken".to_string()),
            ];
            if let Some(from) = from {
                query.push(("startOffset", from.to_string()));
            }
            if let Some(t) = &page_token {
                query.push(("pageToken", t.clone()));
            }
            let list = self.list_request(prefix, &query).await?;
            if !list.names.is_empty() {
                return Ok(None);
            }
            prefixes.extend(list.prefixes);
            page_token = list.next_page_token.filter(|t| !t.is_empty());
            if page_token.is_none() {
                prefixes.sort();
                prefixes.dedup();
                return Ok(Some(prefixes));
            }
        }
    }

    /// One `objects.list` call with `query` (which names `prefix`), parsed (`listing`).
    async fn list_request(
        &self,
        prefix: &str,
        query: &[(&str, String)],
    ) -> Result<Listing, StoreError> {
        let url = format!("{}/storage/v1/b/{}/o", self.endpoint, self.bucket);
        let (_, body) = self
            .send(|| self.http.get(&url).query(query))
            .await
            .map_err(|cause| classify("list", prefix, cause, conflict))?;
        listing::parse(body)
            .await
            .map_err(|source| StoreError::Internal {
                operation: "list",
                key: prefix.to_string(),
                source,
            })
    }

    /// Listed names as entries: the index where there is one, else the body (downloaded, or
    /// from the cache); a record deleted since the listing, or unreadable, is left out.
    pub(super) async fn entries(
        &self,
        names: Vec<Listed>,
        next: Option<String>,
    ) -> Result<EntryPage, StoreError> {
        let bare: Vec<Listed> = names.iter().filter(|n| n.2.is_none()).cloned().collect();
        let (records, unreadable) = if bare.is_empty() {
            (Vec::new(), Vec::new())
        } else {
            self.fetch_all(&bare).await?
        };
        let mut bodies: HashMap<String, Bytes> =
            records.into_iter().map(|r| (r.key, r.data)).collect();
        let entries = names
            .into_iter()
            .filter_map(|(key, generation, index)| {
                let data = match index {
                    Some(_) => None,
                    // Deleted since the listing, or unreadable (listed apart): skipped.
                    None => Some(bodies.remove(&key)?),
                };
                Some(Entry {
                    key,
                    generation,
                    index,
                    data,
                })
            })
            .collect();
        Ok(EntryPage {
            entries,
            next,
            unreadable,
        })
    }

    /// The records of `names`, from the cache or downloaded concurrently; a record deleted or
    /// replaced since the listing is skipped, as a snapshot would not show it. A record whose
    /// download fails (after the retries) is returned as unreadable rather than failing the
    /// others, unless every download failed (the store itself is failing: the list fails).
    pub(super) async fn fetch_all(
        &self,
        names: &[Listed],
    ) -> Result<(Vec<Record>, Vec<Unreadable>), StoreError> {
        let fetched: Vec<Result<Option<Record>, StoreError>> =
            futures_util::stream::iter(names.iter().cloned())
                .map(|(key, generation, _)| async move {
                    if let Some(data) = self.cached(&key, generation) {
                        return Ok(Some(Record {
                            key,
                            data,
                            generation,
                        }));
                    }
                    match self.download(&key, Some(generation)).await {
                        Ok(r) => Ok(Some(r)),
                        Err(cause) if cause.status() == Some(404) => Ok(None),
                        Err(cause) => Err(classify("list", &key, cause, conflict)),
                    }
                })
                .buffered(FETCH_CONCURRENCY)
                .collect()
                .await;
        let mut records = Vec::with_capacity(fetched.len());
        let mut unreadable = Vec::new();
        let mut first_error = None;
        for (r, (key, _, _)) in fetched.into_iter().zip(names) {
            match r {
                Ok(r) => records.extend(r),
                Err(e) => {
                    unreadable.push(Unreadable {
                        key: key.clone(),
                        error: crate::error::chain_of(&e),
                    });
                    first_error.get_or_insert(e);
                }
            }
        }
        match first_error {
            Some(e) if records.is_empty() && unreadable.len() == names.len() => Err(e),
            _ => Ok((records, unreadable)),
        }
    }
}
