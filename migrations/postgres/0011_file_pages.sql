-- Pages of files in creation order (`GET /files`) read only the page from an index,
-- whatever the number of files: at a space's root (`folder_id IS NULL` is not an
-- equality the planner can order by in `files_by_folder`), and across a whole space
-- (`recursive=true`, the Trash). Without them a page sorted every file of the space.
CREATE INDEX files_at_root ON files (space_id, created_at, id) WHERE folder_id IS NULL;
CREATE INDEX files_by_space ON files (space_id, created_at, id);
