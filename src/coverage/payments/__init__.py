"""Self-pay: payment plans, installments, payments, and the offers a clinic makes."""
