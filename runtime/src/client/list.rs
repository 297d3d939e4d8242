//! Finding standalone activities by a visibility query: list (page by page) and count.

use super::*;

/// One activity in a list, as visibility records it.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ActivitySummary {
    /// The id it was started with.
    pub activity_id: String,
    /// The run the server gave this execution of the id.
    pub run_id: String,
    /// The activity type name.
    pub activity_type: String,
    /// The task queue its attempts are scheduled on.
    pub task_queue: String,
    /// Running, or how it closed, as visibility last recorded it.
    pub status: ActivityStatus,
    /// When the activity was started (queued) by a client.
    pub schedule_time: Option<SystemTime>,
    /// When it closed, if it has.
    pub close_time: Option<SystemTime>,
    // Read only through `raw()`, which the `protocol` feature adds.
    #[cfg_attr(not(feature = "protocol"), allow(dead_code))]
    raw: ActivityExecutionListInfo,
}

impl ActivitySummary {
    /// Everything the server sent, as `temporalio-protos` generates it (feature
    /// `protocol`). Not covered by legwork's semver: it follows that crate's versions.
    #[cfg(feature = "protocol")]
    pub fn raw(&self) -> &crate::protocol::activity::v1::ActivityExecutionListInfo {
        &self.raw
    }

    fn from_proto(info: ActivityExecutionListInfo) -> Self {
        ActivitySummary {
            activity_id: info.activity_id.clone(),
            run_id: info.run_id.clone(),
            activity_type: info
                .activity_type
                .as_ref()
                .map(|t| t.name.clone())
                .unwrap_or_default(),
            task_queue: info.task_queue.clone(),
            status: ActivityStatus::from_proto(info.status),
            schedule_time: to_system_time(&info.schedule_time),
            close_time: to_system_time(&info.close_time),
            raw: info,
        }
    }
}

/// One page of [`Client::list_activities_page`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ActivityPage {
    /// The activities on this page, in the server's order; may be empty even when more
    /// pages follow.
    pub activities: Vec<ActivitySummary>,
    /// Pass to the next call for the following page; `None` on the last page.
    pub next_page_token: Option<Vec<u8>>,
}

impl Client {
    /// Every activity matching `query`, in the server's order, following all pages.
    ///
    /// The query is Temporal's visibility language (as in `temporal activity list
    /// --query`), e.g. `ActivityType = 'greet' AND ExecutionStatus = 'Running'`; an empty
    /// query matches all. Visibility is eventually consistent: an activity started a moment
    /// ago may not be listed yet.
    ///
    /// ```no_run
    /// use legwork_runtime::client::Client;
    ///
    /// # async fn run(client: Client) -> Result<(), Box<dyn std::error::Error>> {
    /// for activity in client.list_activities("TaskQueue = 'greetings'").await? {
    ///     println!("{} {:?}", activity.activity_id, activity.status);
    /// }
    /// let running = client
    ///     .count_activities("ExecutionStatus = 'Running'")
    ///     .await?;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn list_activities(&self, query: &str) -> Result<Vec<ActivitySummary>, ClientError> {
        let mut all = Vec::new();
        let mut token = None;
        loop {
            let page = self.list_activities_page(query, 0, token).await?;
            all.extend(page.activities);
            match page.next_page_token {
                Some(next) => token = Some(next),
                None => return Ok(all),
            }
        }
    }

    /// One page of the activities matching `query`: `page_size` 0 takes the server's
    /// default; `page_token` is the previous page's `next_page_token` (`None` for the first).
    pub async fn list_activities_page(
        &self,
        query: &str,
        page_size: u32,
        page_token: Option<Vec<u8>>,
    ) -> Result<ActivityPage, ClientError> {
        let request = service::ListActivityExecutionsRequest {
            namespace: self.namespace.clone(),
            page_size: i32::try_from(page_size).unwrap_or(i32::MAX),
            next_page_token: page_token.unwrap_or_default(),
            query: query.to_owned(),
        };
        let response = self
            .service()
            .list_activity_executions(with_deadline(request, UNARY_DEADLINE))
            .await
            .map_err(rpc_error("ListActivityExecutions"))?
            .into_inner();
        Ok(ActivityPage {
            activities: response
                .executions
                .into_iter()
                .map(ActivitySummary::from_proto)
                .collect(),
            next_page_token: Some(response.next_page_token).filter(|token| !token.is_empty()),
        })
    }

    /// How many activities match `query` (same language as
    /// [`list_activities`](Self::list_activities)).
    pub async fn count_activities(&self, query: &str) -> Result<u64, ClientError> {
        let request = service::CountActivityExecutionsRequest {
            namespace: self.namespace.clone(),
            query: query.to_owned(),
        };
        let response = self
            .service()
            .count_activity_executions(with_deadline(request, UNARY_DEADLINE))
            .await
            .map_err(rpc_error("CountActivityExecutions"))?
            .into_inner();
        Ok(u64::try_from(response.count).unwrap_or(0))
    }
}
