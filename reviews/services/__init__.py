"""Write paths of the Article 22 workflow: the subject's requests (`requests`) and the
caseworker's review (`casework`). Each runs in one transaction under a row lock and writes its
audit event last; e-mails to the subject leave after commit (`steps`)."""
