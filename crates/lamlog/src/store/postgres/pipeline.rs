//! A round trip of several statements: tokio-postgres pipelines requests
//! sent on one connection before their answers are read, and the server runs
//! them one after the other, in the order sent.
//!
//! A [`Turn`] collects statements; [`Turn::run`] sends them all, in order,
//! before waiting for any answer, then reads every answer. A statement that
//! must wait for another (a read after the lock that guards it) may go in
//! the same turn, after it: the server runs it once the lock is granted.
//! Only a statement whose *arguments* come from an earlier answer needs a
//! turn of its own.
//!
//! Every statement must be prepared before the turn is built: a statement
//! prepared on the way would be sent after those behind it (see
//! [`prepare`]). An error in one statement aborts the transaction, so
//! the statements after it fail with "current transaction is aborted";
//! [`Turn::run`] reports the first error in sending order, the cause, and
//! classifies it as every other error (`classify.rs`).

use std::future::Future;
use std::pin::Pin;
use std::task::Poll;

use futures_util::TryStreamExt;
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, Row, Statement};

use super::classify::classify;
use crate::store::StoreError;

/// A statement's argument, owned by its step until the step is sent.
pub(super) type Param<'a> = Box<dyn ToSql + Sync + Send + 'a>;

/// Boxes an argument.
pub(super) fn param<'a, T: ToSql + Sync + Send + 'a>(value: T) -> Param<'a> {
    Box::new(value)
}

type Step<'a> = Pin<Box<dyn Future<Output = Result<Reply, tokio_postgres::Error>> + Send + 'a>>;

/// What one statement of a turn answered.
#[derive(Debug)]
pub(super) enum Reply {
    /// The rows of a query.
    Rows(Vec<Row>),
    /// The number of rows a statement changed.
    Count(u64),
    /// A simple query's success.
    Done,
}

/// The statements of one round trip, in sending order.
pub(super) struct Turn<'a> {
    client: &'a Client,
    steps: Vec<(&'static str, Step<'a>)>,
}

/// Where a statement's reply is in [`Turn::run`]'s answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Slot(usize);

impl<'a> Turn<'a> {
    /// An empty turn on `client`.
    pub fn new(client: &'a Client) -> Turn<'a> {
        Turn {
            client,
            steps: Vec::new(),
        }
    }

    /// Adds a statement whose rows are wanted; `context` names it in errors.
    pub fn query(
        &mut self,
        context: &'static str,
        statement: &Statement,
        params: Vec<Param<'a>>,
    ) -> Slot {
        let client = self.client;
        let statement = statement.clone();
        self.push(
            context,
            Box::pin(async move {
                let rows = client.query_raw(&statement, arguments(&params)).await?;
                Ok(Reply::Rows(rows.try_collect().await?))
            }),
        )
    }

    /// Adds a statement whose count of changed rows is wanted.
    pub fn execute(
        &mut self,
        context: &'static str,
        statement: &Statement,
        params: Vec<Param<'a>>,
    ) -> Slot {
        let client = self.client;
        let statement = statement.clone();
        self.push(
            context,
            Box::pin(async move {
                let count = client.execute_raw(&statement, arguments(&params)).await?;
                Ok(Reply::Count(count))
            }),
        )
    }

    /// Adds a simple query (several statements, no arguments).
    pub fn simple(&mut self, context: &'static str, sql: String) -> Slot {
        let client = self.client;
        self.push(
            context,
            Box::pin(async move {
                client.batch_execute(&sql).await?;
                Ok(Reply::Done)
            }),
        )
    }

    fn push(&mut self, context: &'static str, step: Step<'a>) -> Slot {
        self.steps.push((context, step));
        Slot(self.steps.len() - 1)
    }

    /// Sends every statement, in order, then waits for every answer; the
    /// first error in sending order, if any.
    pub async fn run(self) -> Result<Replies, StoreError> {
        let (contexts, mut steps): (Vec<&'static str>, Vec<Step<'a>>) =
            self.steps.into_iter().unzip();
        let mut answers: Vec<Option<Result<Reply, tokio_postgres::Error>>> =
            steps.iter().map(|_| None).collect();
        // Polled in index order, so that the first poll sends every request
        // in order (a request is sent when its step is first polled).
        std::future::poll_fn(|context| {
            let mut waiting = false;
            for (step, answer) in steps.iter_mut().zip(answers.iter_mut()) {
                if answer.is_none() {
                    match step.as_mut().poll(context) {
                        Poll::Ready(result) => *answer = Some(result),
                        Poll::Pending => waiting = true,
                    }
                }
            }
            if waiting {
                Poll::Pending
            } else {
                Poll::Ready(())
            }
        })
        .await;
        let mut replies = Vec::with_capacity(answers.len());
        for (context, answer) in contexts.into_iter().zip(answers) {
            match answer {
                Some(Ok(reply)) => replies.push(reply),
                Some(Err(error)) => return Err(classify(context, error)),
                None => {
                    return Err(StoreError::Statement(format!("{context}: no answer")));
                }
            }
        }
        Ok(Replies(replies.into_iter().map(Some).collect()))
    }
}

fn arguments<'p>(params: &'p [Param<'_>]) -> impl ExactSizeIterator<Item = &'p (dyn ToSql + Sync)> {
    params.iter().map(|param| &**param as &(dyn ToSql + Sync))
}

/// The answers of a turn, taken by [`Slot`].
#[derive(Debug)]
pub(super) struct Replies(Vec<Option<Reply>>);

impl Replies {
    fn take(&mut self, slot: Slot, context: &str) -> Result<Reply, StoreError> {
        self.0
            .get_mut(slot.0)
            .and_then(Option::take)
            .ok_or_else(|| StoreError::Statement(format!("{context}: no answer")))
    }

    /// The rows of the query at `slot`.
    pub fn rows(&mut self, slot: Slot, context: &str) -> Result<Vec<Row>, StoreError> {
        match self.take(slot, context)? {
            Reply::Rows(rows) => Ok(rows),
            other => Err(StoreError::Statement(format!(
                "{context}: expected rows, got {other:?}"
            ))),
        }
    }

    /// The count of the statement at `slot`.
    pub fn count(&mut self, slot: Slot, context: &str) -> Result<u64, StoreError> {
        match self.take(slot, context)? {
            Reply::Count(count) => Ok(count),
            other => Err(StoreError::Statement(format!(
                "{context}: expected a row count, got {other:?}"
            ))),
        }
    }
}

/// Prepares `texts` (cached per connection), all in one round trip; none
/// when every one is cached.
pub(super) async fn prepare(
    client: &deadpool_postgres::Client,
    texts: &[&str],
) -> Result<Vec<Statement>, StoreError> {
    futures_util::future::join_all(texts.iter().map(|text| client.prepare_cached(text)))
        .await
        .into_iter()
        .map(|prepared| {
            prepared.map_err(|error| classify("preparing the batch's statements", error))
        })
        .collect()
}
