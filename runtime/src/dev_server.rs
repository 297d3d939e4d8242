//! dev server
