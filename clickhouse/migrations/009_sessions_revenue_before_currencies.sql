-- Sessions stored before 008 kept no revenue per currency: theirs shows as XXX (currency not known), never as none.
ALTER TABLE {db}.sessions MODIFY COLUMN revenue_by_currency Map(LowCardinality(String), Float64)
    DEFAULT if(revenue = 0, map(), map('XXX', revenue));
