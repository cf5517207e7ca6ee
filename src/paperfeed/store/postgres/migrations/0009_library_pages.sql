-- A collection's pages list its papers newest save first (ties by id): this index gives that
-- order directly, so page 100 of a 10,000-paper collection steps through the index instead
-- of sorting every row of the collection (it also serves max(added_at) per collection).
CREATE INDEX collection_papers_page ON collection_papers(collection_id, added_at DESC, paper_id);
DROP INDEX collection_papers_added;
