-- now (read only): the server clock every script of this store reads.
return {'ok', NOW_T}
