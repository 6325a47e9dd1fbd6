//! [`Pager`]: the one paging loop over a prefix, and [`list_all`] on it.

use super::{EntryPage, Page, Record, RecordStore, StoreError};

/// A listing call in flight (what `#[async_trait]` makes of [`RecordStore::list`] and
/// [`RecordStore::list_entries`]).
type Listing<'s, P> = futures_util::future::BoxFuture<'s, Result<P, StoreError>>;

/// Pages through the records under a prefix in key order: the one paging loop over
/// [`RecordStore::list`] and [`RecordStore::list_entries`] (generic over the store so that
/// the trait's own default methods page with it too).
#[derive(Debug)]
pub(crate) struct Pager<'a, S: ?Sized = dyn RecordStore> {
    store: &'a S,
    prefix: String,
    after: Option<String>,
    page_size: usize,
    done: bool,
}

impl<'a, S: RecordStore + ?Sized> Pager<'a, S> {
    /// Pages of up to `page_size` records with `prefix`, from the first.
    pub(crate) fn new(store: &'a S, prefix: impl Into<String>, page_size: usize) -> Self {
        Pager {
            store,
            prefix: prefix.into(),
            after: None,
            page_size,
            done: false,
        }
    }

    /// Starts after `key` (a continue token's position) instead of at the first record.
    pub(crate) fn after(mut self, key: Option<String>) -> Self {
        self.after = key;
        self
    }

    /// The next page, or `None` once the last page was returned. A page's `next` tells
    /// whether more follow.
    pub(crate) async fn next_page(&mut self) -> Result<Option<Page>, StoreError> {
        self.next_with(
            |store, prefix, after, limit| store.list(prefix, after, limit),
            |page| page.next.as_ref(),
        )
        .await
    }

    /// Like [`next_page`](Self::next_page), through [`RecordStore::list_entries`]: indexes,
    /// and bodies only of records without one.
    pub(crate) async fn next_entries(&mut self) -> Result<Option<EntryPage>, StoreError> {
        self.next_with(
            |store, prefix, after, limit| store.list_entries(prefix, after, limit),
            |page| page.next.as_ref(),
        )
        .await
    }

    /// The one step of both: `list` reads the page at the current position, `next` is its
    /// continuation.
    async fn next_with<P>(
        &mut self,
        list: impl for<'s> FnOnce(&'s S, &'s str, Option<&'s str>, usize) -> Listing<'s, P>,
        next: impl FnOnce(&P) -> Option<&String>,
    ) -> Result<Option<P>, StoreError> {
        if self.done {
            return Ok(None);
        }
        let page = list(
            self.store,
            &self.prefix,
            self.after.as_deref(),
            self.page_size,
        )
        .await?;
        self.advance(next(&page));
        Ok(Some(page))
    }

    /// Past a page whose continuation is `next`: the next page starts after it, or there is
    /// none.
    fn advance(&mut self, next: Option<&String>) {
        match next {
            Some(next) => self.after = Some(next.clone()),
            None => self.done = true,
        }
    }
}

/// Every record under `prefix`, in key order; records that cannot be read are logged and
/// skipped.
pub(crate) async fn list_all(
    store: &dyn RecordStore,
    prefix: &str,
) -> Result<Vec<Record>, StoreError> {
    let mut pages = Pager::new(store, prefix, 1000);
    let mut all = Vec::new();
    while let Some(page) = pages.next_page().await? {
        for u in &page.unreadable {
            tracing::error!(key = %u.key, error = %u.error, "skipping an unreadable record");
        }
        all.extend(page.records);
    }
    Ok(all)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::memory;
    use bytes::Bytes;

    #[tokio::test]
    async fn pager_walks_every_page_in_key_order() {
        let store = memory::MemoryStore::new();
        for i in 0..7 {
            store
                .create(&format!("pods/a/{i}.json"), Bytes::new())
                .await
                .expect("create");
        }
        store.create("other/x", Bytes::new()).await.expect("create");
        let mut pages = Pager::new(&store, "pods/", 3);
        let mut sizes = Vec::new();
        while let Some(page) = pages.next_page().await.expect("page") {
            sizes.push(page.records.len());
        }
        assert_eq!(sizes, [3, 3, 1]);
        let after = Pager::new(&store, "pods/", 10)
            .after(Some("pods/a/4.json".into()))
            .next_page()
            .await
            .expect("page")
            .expect("a page");
        assert_eq!(after.records.len(), 2);
        assert_eq!(list_all(&store, "pods/").await.expect("all").len(), 7);
    }
}
