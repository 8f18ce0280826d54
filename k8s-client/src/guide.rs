//! The guide: how to use k8s-client, chapter by chapter, from a first program to operators,
//! testing, reliability and version skew, plus a migration guide from kube-rs and a map of
//! client-go's packages.
//!
//! The chapters are the Markdown files of `k8s-client/guide/` in the repository, rendered here by
//! rustdoc: their links into the API are checked by `cargo doc` and their code blocks are
//! compiled as doc tests (those that need no cluster also run). This module has no items of
//! its own, only one submodule per chapter.
//!
//! | chapter | topic |
//! |---|---|
//! | [1](getting_started) | getting started in five minutes |
//! | [2](configuration) | configuration and authentication |
//! | [3](clients) | typed, dynamic and metadata clients |
//! | [4](patches) | patches and server-side apply |
//! | [5](caches) | informers, listers, indexers and compact caches |
//! | [6](controllers) | work queues and controllers |
//! | [7](operators) | the operator toolkit |
//! | [8](testing) | testing without a cluster and with a real one |
//! | [9](streams) | streams: exec, attach, port-forward, logs |
//! | [10](performance) | performance tuning |
//! | [11](reliability) | reliability: retries, timeouts, watches, bounds |
//! | [12](compatibility) | version compatibility and skew |
//! | [kube-rs](migrating_from_kube_rs) | migrating from kube-rs |
//! | [client-go](client_go_map) | client-go's packages and where they are here |

// The chapters link to each other with reference links whose targets, in the Markdown
// files, are the files themselves (so they work on a code forge); the definitions below
// come first in each chapter's docs and therefore win (CommonMark keeps the first
// definition of a label), pointing rustdoc at the chapter modules instead.
macro_rules! chapter_links {
    () => {
        "[getting-started]: crate::guide::getting_started\n\
         [configuration]: crate::guide::configuration\n\
         [clients]: crate::guide::clients\n\
         [patches]: crate::guide::patches\n\
         [caches]: crate::guide::caches\n\
         [controllers]: crate::guide::controllers\n\
         [operators]: crate::guide::operators\n\
         [testing]: crate::guide::testing\n\
         [streams]: crate::guide::streams\n\
         [performance]: crate::guide::performance\n\
         [reliability]: crate::guide::reliability\n\
         [compatibility]: crate::guide::compatibility\n\
         [migrating]: crate::guide::migrating_from_kube_rs\n\
         [client-go-map]: crate::guide::client_go_map\n\
         [guide]: crate::guide\n"
    };
}

macro_rules! chapter {
    ($(#[$attr:meta])* $name:ident, $file:literal) => {
        #[doc = chapter_links!()]
        #[doc = include_str!(concat!("../guide/", $file))]
        $(#[$attr])*
        pub mod $name {}
    };
}

chapter!(getting_started, "01-getting-started.md");
chapter!(configuration, "02-configuration.md");
chapter!(clients, "03-clients.md");
chapter!(patches, "04-patches.md");
chapter!(caches, "05-caches.md");
chapter!(controllers, "06-controllers.md");
chapter!(operators, "07-operators.md");
chapter!(testing, "08-testing.md");
chapter!(streams, "09-streams.md");
chapter!(performance, "10-performance.md");
chapter!(reliability, "11-reliability.md");
chapter!(compatibility, "12-compatibility.md");
chapter!(migrating_from_kube_rs, "migrating-from-kube-rs.md");
chapter!(client_go_map, "client-go-map.md");
