"""What the tests and the benchmarks both drive the product with: the `cx` command as a user runs it,
real HTTP and SMTP receivers on loopback, fault switches at the store boundary, workloads shaped a
given way, and the chaos run. Not part of the product (not shipped); the tests and the benchmarks
import it, never each other."""
